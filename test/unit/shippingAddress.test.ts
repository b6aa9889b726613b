import { describe, expect, it } from 'vitest';
import { shippingAddressSchema } from '../../src/domain/shippingAddress.js';

const address = { name: 'Ada Lovelace', line1: '12 St James Square', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' };
const issues = (value: unknown) => {
  const result = shippingAddressSchema.safeParse(value);
  return result.success ? [] : result.error.issues.map((issue) => issue.path.join('.'));
};

describe('a shipping address', () => {
  it('when it is complete, then it is accepted, trimmed, with the country code in capitals', () => {
    expect(shippingAddressSchema.parse({ ...address, name: '  Ada Lovelace ', line2: 'Flat 3', country: 'gb' })).toEqual({ ...address, line2: 'Flat 3' });
  });

  it.each([
    ['an unassigned country code', { ...address, country: 'XX' }, 'country'],
    ['a withdrawn country code', { ...address, country: 'UK' }, 'country'],
    ['a three-letter country code', { ...address, country: 'GBR' }, 'country'],
    ['no city', { ...address, city: undefined }, 'city'],
    ['a blank name', { ...address, name: '   ' }, 'name'],
    ['a line break in a line', { ...address, line1: '12 St James\nSquare' }, 'line1'],
    ['a postal code with symbols', { ...address, postalCode: '<script>' }, 'postalCode'],
    ['an unknown member', { ...address, phone: '123' }, ''],
  ])('when it has %s, then it is refused naming the member', (_, value, path) => {
    expect(issues(value)).toContain(path);
  });
});
