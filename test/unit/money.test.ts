import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { centsFromDecimal, centsFromNumber, decimalFromCents, maxCents, numberFromCents } from '../../src/domain/money.js';

describe('money', () => {
  it.each([
    [19.99, 1999],
    [0, 0],
    [0.5, 50],
    [0.07, 7],
    [24.9, 2490],
    [663547662.67, 66354766267],
    [9999999999.99, maxCents],
  ])('when the API number is %s, then it is %s cents', (value, cents) => {
    expect(centsFromNumber(value)).toBe(cents);
  });

  it.each([1.005, 0.001, 19.999, 0.1 + 0.2, -0.01, -1, Number.NaN, Number.POSITIVE_INFINITY, 10_000_000_000, 1e300, 1e-7])(
    'when the API number is %s, then it is rejected',
    (value) => {
      expect(centsFromNumber(value)).toBeUndefined();
    },
  );

  it('when any amount with at most two decimals goes through JSON, then its cents are exact', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: maxCents }), (cents) => {
        const json = JSON.parse(JSON.stringify({ price: numberFromCents(cents) })) as { price: number };
        expect(centsFromNumber(json.price)).toBe(cents);
      }),
      { numRuns: 5_000 },
    );
  });

  it('when cents go to NUMERIC text and back, then nothing is lost', () => {
    fc.assert(
      fc.property(fc.integer({ min: -maxCents, max: maxCents }), (cents) => {
        expect(centsFromDecimal(decimalFromCents(cents))).toBe(cents);
      }),
      { numRuns: 5_000 },
    );
  });

  it.each([
    ['24.90', 2490],
    ['24.9', 2490],
    ['0.05', 5],
    ['7', 700],
    ['-1.50', -150],
    ['9999999999.99', maxCents],
  ])('when Postgres returns %s, then it is %s cents', (text, cents) => {
    expect(centsFromDecimal(text)).toBe(cents);
  });

  it.each(['', 'abc', '1.234', '1e5', '1,50', ' 1.00'])('when Postgres text is %j, then parsing throws', (text) => {
    expect(() => centsFromDecimal(text)).toThrow(/Not a money amount/);
  });

  it.each([
    [0, '0.00'],
    [5, '0.05'],
    [1999, '19.99'],
    [-150, '-1.50'],
  ])('when %s cents are written for Postgres, then the text is %s', (cents, text) => {
    expect(decimalFromCents(cents)).toBe(text);
  });

  it('when cents become an API number, then it has the two decimals the client sent', () => {
    expect(numberFromCents(1999)).toBe(19.99);
    expect(JSON.stringify(numberFromCents(1990))).toBe('19.9');
  });
});
