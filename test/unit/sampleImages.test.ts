import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageTypeOf } from '../../src/domain/images.js';
import { drawPicture, samplePictures } from '../../scripts/sampleImages.js';
import { projectRoot } from '../support/bicep.js';

describe('sample catalog pictures', () => {
  it('when the sample catalog is seeded, then every sample product has a picture with an alt text', () => {
    const seeded = [...readFileSync(join(projectRoot, 'seed/catalog.sql'), 'utf8').matchAll(/\('(01935e00-[0-9a-f-]{27})', '/g)].map((m) => m[1]);
    expect(seeded.length).toBeGreaterThan(10);
    for (const id of seeded) {
      expect(samplePictures[id!]?.length, id).toBeGreaterThan(0);
      for (const picture of samplePictures[id!]!) expect(picture.alt).toMatch(/^Drawing of .{10,}/);
    }
  });

  it('when a picture is drawn, then it is a PNG the upload route would accept, with an IHDR of 640 x 480', () => {
    const png = drawPicture(samplePictures['01935e00-0000-7000-8000-000000000001']![0]!);
    expect(imageTypeOf(png)?.contentType).toBe('image/png');
    expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([640, 480]);
  });
});
