/*
 * The sample catalog's pictures: simple illustrations drawn here (scripts/png.ts encodes them; nothing is
 * downloaded) and uploaded to the product images container by `npm run setup -- --seed`. Blob names are
 * fixed per product, so seeding again overwrites them, and only products without images get them.
 */
import pg from 'pg';
import { blobImageStore } from '../src/adapters/blob/imageStore.js';
import { encodePng, type Rgb } from './png.js';

type Motif = 'beans' | 'cup' | 'rings' | 'jar' | 'kettle';

export interface Picture {
  motif: Motif;
  background: Rgb;
  ink: Rgb;
  alt: string;
}

const cream: Rgb = [246, 238, 224];
const sage: Rgb = [222, 232, 220];
const sky: Rgb = [221, 232, 242];
const roast: Rgb = [96, 58, 36];
const steel: Rgb = [110, 120, 130];
const clay: Rgb = [188, 98, 64];

/** Pictures per sample product id (seed/catalog.sql), with alt texts that say what they show. */
export const samplePictures: Record<string, Picture[]> = {
  '01935e00-0000-7000-8000-000000000001': [
    { motif: 'beans', background: cream, ink: roast, alt: 'Drawing of dark brown coffee beans on a cream background' },
    { motif: 'jar', background: sage, ink: roast, alt: 'Drawing of a brown bag of beans on a pale green background' },
  ],
  '01935e00-0001-7000-8000-000000000002': [{ motif: 'kettle', background: sky, ink: steel, alt: 'Drawing of a grey gooseneck kettle on a pale blue background' }],
  '01935e00-0002-7000-8000-000000000003': [{ motif: 'cup', background: sky, ink: [250, 250, 250], alt: 'Drawing of a white porcelain dripper on a pale blue background' }],
  '01935e00-0003-7000-8000-000000000004': [{ motif: 'rings', background: cream, ink: [214, 196, 160], alt: 'Drawing of a stack of unbleached paper filters on a cream background' }],
  '01935e00-0004-7000-8000-000000000005': [
    { motif: 'jar', background: cream, ink: steel, alt: 'Drawing of a grey burr grinder on a cream background' },
    { motif: 'rings', background: sky, ink: steel, alt: 'Drawing of the conical burrs seen from above, grey on pale blue' },
  ],
  '01935e00-0005-7000-8000-000000000006': [{ motif: 'rings', background: sage, ink: [40, 40, 44], alt: 'Drawing of a black round scale seen from above on a pale green background' }],
  '01935e00-0006-7000-8000-000000000007': [{ motif: 'jar', background: sky, ink: clay, alt: 'Drawing of a terracotta travel mug on a pale blue background' }],
  '01935e00-0007-7000-8000-000000000008': [{ motif: 'jar', background: cream, ink: [150, 190, 200], alt: 'Drawing of a glass cold brew jar on a cream background' }],
  '01935e00-0008-7000-8000-000000000009': [{ motif: 'kettle', background: sage, ink: [40, 40, 44], alt: 'Drawing of a black milk frother on a pale green background' }],
  '01935e00-0009-7000-8000-00000000000a': [{ motif: 'cup', background: cream, ink: steel, alt: 'Drawing of a steel cupping spoon bowl on a cream background' }],
  '01935e00-000a-7000-8000-00000000000b': [{ motif: 'jar', background: sage, ink: [70, 84, 60], alt: 'Drawing of an olive canvas apron on a pale green background' }],
  '01935e00-000b-7000-8000-00000000000c': [{ motif: 'rings', background: sky, ink: [240, 240, 240], alt: 'Drawing of white descaling tablets on a pale blue background' }],
  '01935e00-000c-7000-8000-00000000000d': [{ motif: 'beans', background: sky, ink: [168, 112, 64], alt: 'Drawing of light brown coffee beans on a pale blue background' }],
  '01935e00-000d-7000-8000-00000000000e': [{ motif: 'beans', background: sage, ink: [120, 80, 50], alt: 'Drawing of medium brown coffee beans on a pale green background' }],
  '01935e00-000e-7000-8000-00000000000f': [{ motif: 'beans', background: cream, ink: [54, 34, 24], alt: 'Drawing of very dark coffee beans on a cream background' }],
};

const width = 640;
const height = 480;
const shade = (color: Rgb, by: number): Rgb => [color[0] * by, color[1] * by, color[2] * by];

/** Is (x, y) inside the motif? Returns the colour there, or undefined for the background. */
function motifAt(motif: Motif, ink: Rgb, x: number, y: number): Rgb | undefined {
  const cx = width / 2;
  const cy = height / 2;
  const inEllipse = (ex: number, ey: number, rx: number, ry: number, angle = 0) => {
    const [dx, dy] = [x - ex, y - ey];
    const [u, v] = [dx * Math.cos(angle) + dy * Math.sin(angle), -dx * Math.sin(angle) + dy * Math.cos(angle)];
    return { inside: (u / rx) ** 2 + (v / ry) ** 2 <= 1, u, v };
  };
  switch (motif) {
    case 'beans': {
      for (const [bx, by, angle] of [
        [cx - 110, cy - 40, 0.5],
        [cx + 60, cy - 70, -0.4],
        [cx - 20, cy + 70, 0.2],
        [cx + 150, cy + 60, 1.1],
      ] as const) {
        const bean = inEllipse(bx, by, 80, 55, angle);
        // The bean's crease: a thin S-shaped line along its long axis.
        if (bean.inside) return Math.abs(bean.v - 12 * Math.sin(bean.u / 25)) < 5 ? shade(ink, 0.55) : shade(ink, 1 - (bean.v + 55) / 400);
      }
      return undefined;
    }
    case 'cup': {
      const body = x > cx - 120 && x < cx + 120 && y > cy - 110 && y < cy + 90 && Math.abs(x - cx) < 120 - (y - (cy - 110)) * 0.25;
      const saucer = inEllipse(cx, cy + 110, 190, 28).inside;
      if (body) return shade(ink, 0.92 + 0.08 * Math.cos((x - cx) / 60));
      if (saucer) return shade(ink, 0.8);
      return undefined;
    }
    case 'rings': {
      const r = Math.hypot(x - cx, y - cy);
      if (r > 190) return undefined;
      return Math.floor(r / 28) % 2 === 0 ? ink : shade(ink, 0.82);
    }
    case 'jar': {
      const inBody = Math.abs(x - cx) < 110 && y > cy - 130 && y < cy + 170;
      const lid = Math.abs(x - cx) < 125 && y > cy - 170 && y < cy - 130;
      if (lid) return shade(ink, 0.7);
      if (inBody) return Math.abs(x - cx + 60) < 14 ? shade(ink, 1.15) : shade(ink, 0.95);
      return undefined;
    }
    case 'kettle': {
      const body = inEllipse(cx - 20, cy + 40, 150, 120).inside && y > cy - 60;
      const lid = inEllipse(cx - 20, cy - 70, 50, 22).inside;
      // The gooseneck: a thick curve leaving the body to the upper right.
      const t = (x - (cx + 110)) / 120;
      const spout = t >= 0 && t <= 1 && Math.abs(y - (cy + 60 - 110 * t * t)) < 12;
      if (body || spout) return shade(ink, 0.9 + 0.2 * ((x - cx) / width));
      if (lid) return shade(ink, 0.7);
      return undefined;
    }
  }
}

export function drawPicture(picture: Picture): Buffer {
  return encodePng(width, height, (x, y) => motifAt(picture.motif, picture.ink, x, y) ?? shade(picture.background, 1 - 0.12 * (y / height)));
}

/** Uploads the pictures of sample products that have no images yet; answers how many products got some. */
export async function seedSampleImages(options: { postgresUrl: string; storage: string; container: string }): Promise<number> {
  const store = blobImageStore({ storage: options.storage, container: options.container });
  await store.ensureContainer();
  const client = new pg.Client({ connectionString: options.postgresUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(`SELECT id FROM products WHERE id = ANY($1::uuid[]) AND images = '[]'::jsonb`, [Object.keys(samplePictures)]);
    for (const { id } of rows) {
      const images = [];
      for (const [index, picture] of samplePictures[id]!.entries()) {
        const blob = store.container.getBlockBlobClient(`seed/${id}-${index}.png`);
        await blob.uploadData(drawPicture(picture), { blobHTTPHeaders: { blobContentType: 'image/png', blobCacheControl: 'public, max-age=86400' } });
        images.push({ url: blob.url, alt: picture.alt });
      }
      await client.query(`UPDATE products SET images = $2::jsonb, version = version + 1, updated_at = now() WHERE id = $1 AND images = '[]'::jsonb`, [id, JSON.stringify(images)]);
    }
    return rows.length;
  } finally {
    await client.end();
  }
}
