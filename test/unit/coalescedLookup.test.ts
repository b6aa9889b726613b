import { describe, expect, it } from 'vitest';
import { CoalescedLookup } from '../../src/adapters/postgres/coalescedLookup.js';

/** A store whose loads finish when the test says, recording the keys of each. */
function deferredStore(rows: Record<string, string>) {
  const loads: { keys: string[]; finish: (error?: Error) => void }[] = [];
  const lookup = new CoalescedLookup<string, string>(
    (keys) =>
      new Promise((resolve, reject) => {
        // Read when the load starts: a value written before that is seen.
        const found = new Map(keys.filter((key) => key in rows).map((key) => [key, rows[key]!]));
        loads.push({ keys, finish: (error) => (error ? reject(error) : resolve(found)) });
      }),
    (key) => key,
  );
  return { lookup, loads };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('coalesced lookups', () => {
  it('when lookups arrive while one load runs, then the next single load answers all of them, each with its own row', async () => {
    const rows: Record<string, string> = { a: 'A', b: 'B', c: 'C' };
    const { lookup, loads } = deferredStore(rows);
    const first = lookup.get('a');
    const later = [lookup.get('b'), lookup.get('c'), lookup.get('missing')];
    expect(loads.map((load) => load.keys)).toEqual([['a']]);
    loads[0]!.finish();
    expect(await first).toBe('A');
    await tick();
    expect(loads.map((load) => load.keys)).toEqual([['a'], ['b', 'c', 'missing']]);
    loads[1]!.finish();
    expect(await Promise.all(later)).toEqual(['B', 'C', undefined]);
  });

  it('when a lookup is asked while a load runs, then it is answered by a load that starts after it was asked (never an older read)', async () => {
    const rows: Record<string, string> = {};
    const { lookup, loads } = deferredStore(rows);
    const first = lookup.get('k');
    rows.k = 'written after the first load started';
    const second = lookup.get('k');
    loads[0]!.finish();
    expect(await first).toBeUndefined();
    await tick();
    loads[1]!.finish();
    expect(await second).toBe('written after the first load started');
  });

  it('when a load fails, then only the lookups it was answering fail', async () => {
    const { lookup, loads } = deferredStore({ a: 'A', b: 'B' });
    const failed = lookup.get('a');
    const next = lookup.get('b');
    loads[0]!.finish(new Error('connection lost'));
    await expect(failed).rejects.toThrow('connection lost');
    await tick();
    loads[1]!.finish();
    expect(await next).toBe('B');
  });
});
