import { z } from 'zod';
import type { ExpectedVersions } from '../domain/products.js';
import type { HeaderSpec } from './api.js';

/** The strong entity tag of a version: `"7"`. */
export const etagOf = (version: number): string => `"${version}"`;

// RFC 9110 §13.1.1: If-Match = "*" / #entity-tag, entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE.
const entityTag = '(?:W/)?"[\\x21\\x23-\\x7e]*"';
const ifMatchPattern = new RegExp(`^(?:\\*|${entityTag}(?:[ \\t]*,[ \\t]*${entityTag})*)$`);

export const ifMatchHeader: HeaderSpec = {
  description:
    'Apply the change only if the product is still at this version: its ETag from the last read (`*`: any version). ' +
    'A stale one is 412 `product_version_mismatch`. Without it the change applies to whatever is current: clients that change `stock` should send it.',
  schema: z.string().max(1000).regex(ifMatchPattern, 'must be * or a list of entity tags such as "7"'),
};

export const etagHeader: HeaderSpec = {
  description: "The product's version as a strong entity tag, for If-Match",
  schema: z.string(),
};

/**
 * The versions an If-Match header accepts; undefined when it is absent or `*` (any current version).
 * If-Match compares strongly (RFC 9110 §13.1.1), so weak tags and tags this API never issued match nothing.
 */
export function versionsFromIfMatch(header: string | null): ExpectedVersions {
  if (header === null || header.trim() === '*') return undefined;
  return header.split(',').flatMap((tag) => {
    const version = /^"(\d{1,15})"$/.exec(tag.trim())?.[1];
    return version === undefined ? [] : [Number(version)];
  });
}
