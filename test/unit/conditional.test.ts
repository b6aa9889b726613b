import { describe, expect, it } from 'vitest';
import { etagOf, ifMatchHeader, versionsFromIfMatch } from '../../src/http/conditional.js';

describe('If-Match and ETag', () => {
  it('when a version is shown as an ETag, then it is a strong tag that If-Match reads back', () => {
    expect(etagOf(12)).toBe('"12"');
    expect(versionsFromIfMatch(etagOf(12))).toEqual([12]);
  });

  it('when If-Match is absent or *, then any current version is accepted', () => {
    expect(versionsFromIfMatch(null)).toBeUndefined();
    expect(versionsFromIfMatch('*')).toBeUndefined();
  });

  it('when If-Match lists several tags, then each strong numeric one is accepted and weak or foreign ones match nothing', () => {
    expect(versionsFromIfMatch('"3", W/"4" ,"5"')).toEqual([3, 5]);
    expect(versionsFromIfMatch('W/"4"')).toEqual([]);
    expect(versionsFromIfMatch('"abc"')).toEqual([]);
  });

  it.each(['', '3', '"3', '"3",', '* , "3"', 'W/3', '"a"b"'])('when If-Match is %j, then the header is invalid (400)', (value) => {
    expect(ifMatchHeader.schema.safeParse(value).success).toBe(false);
  });

  it.each(['*', '"3"', 'W/"3"', '"3", "4"', '"3",W/"4"', '""'])('when If-Match is %j, then the header is valid', (value) => {
    expect(ifMatchHeader.schema.safeParse(value).success).toBe(true);
  });
});
