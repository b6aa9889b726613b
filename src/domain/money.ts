/*
 * Money is held as integer cents inside the app (no float rounding), NUMERIC(12,2) in Postgres and a
 * JSON number with at most two decimals at the API.
 */

export type Cents = number;

/** Largest amount NUMERIC(12,2) holds. */
export const maxCents: Cents = 9_999_999_999_99;

/** Cents from an API number; undefined when it has more than two decimals or is out of range. */
export function centsFromNumber(value: number): Cents | undefined {
  if (!Number.isFinite(value) || value < 0) return undefined;
  const cents = Math.round(value * 100);
  // Exact: a decimal with at most two places parses to the same double as cents / 100. (A fixed
  // tolerance on value * 100 rejected valid prices above ~10^7, e.g. 663547662.67.)
  if (cents / 100 !== value || cents > maxCents) return undefined;
  return cents;
}

/** Cents from Postgres NUMERIC text such as "24.90", parsed exactly. */
export function centsFromDecimal(text: string): Cents {
  const match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(text);
  if (!match) throw new Error(`Not a money amount: ${text}`);
  const [, sign, whole, fraction = ''] = match;
  const cents = Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
  return sign ? -cents : cents;
}

/** NUMERIC text for Postgres. */
export function decimalFromCents(cents: Cents): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** The API's JSON number. */
export function numberFromCents(cents: Cents): number {
  return cents / 100;
}
