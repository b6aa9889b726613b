import { describe, expect, it } from 'vitest';
import { Coalesced, CoalescedLookup } from '../../src/adapters/postgres/coalesced.js';

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

describe('coalesced writes', () => {
  const undone = Object.assign(new Error('undone'), { code: 'undo' });
  /** A statement over its inputs that undoes itself whenever 'bad' is among them, recording each run's inputs. */
  function undoingStatement() {
    const runs: string[][] = [];
    const calls = new Coalesced<string, string>(
      async (inputs) => {
        runs.push(inputs);
        await tick();
        if (inputs.includes('bad')) throw undone;
        return inputs.map((input) => input.toUpperCase());
      },
      { oneByOne: (error) => error === undone },
    );
    return { calls, runs };
  }

  it('when a batch undoes itself for one input, then each input runs again alone and only that caller gets the error', async () => {
    const { calls, runs } = undoingStatement();
    const first = calls.call('a');
    const batch = [calls.call('b'), calls.call('bad'), calls.call('c')].map((call) => call.catch((error: unknown) => error));
    expect(await first).toBe('A');
    expect(await Promise.all(batch)).toEqual(['B', undone, 'C']);
    expect(runs).toEqual([['a'], ['b', 'bad', 'c'], ['b'], ['bad'], ['c']]);
  });

  it('when a batch fails for another reason, then every caller of it gets the error and nothing runs again', async () => {
    const failure = new Error('connection lost');
    const runs: string[][] = [];
    const calls = new Coalesced<string, string>(
      async (inputs) => {
        runs.push(inputs);
        await tick();
        throw failure;
      },
      { oneByOne: (error) => error === undone },
    );
    const all = ['a', 'b', 'c'].map((input) => calls.call(input).catch((error: unknown) => error));
    expect(await Promise.all(all)).toEqual([failure, failure, failure]);
    expect(runs).toEqual([['a'], ['b', 'c']]);
  });
});

describe('coalesced calls with two runs out at once', () => {
  it('when calls arrive while two runs are out, then they wait for the next run together; while only one is out, a call starts at once', async () => {
    const runs: { inputs: string[]; finish: () => void }[] = [];
    const calls = new Coalesced<string, string>(
      (inputs) =>
        new Promise((resolve) => {
          runs.push({ inputs, finish: () => resolve(inputs.map((input) => input.toUpperCase())) });
        }),
      { parallel: 2 },
    );
    const a = calls.call('a');
    const b = calls.call('b');
    const waiting = [calls.call('c'), calls.call('d')];
    expect(runs.map((run) => run.inputs)).toEqual([['a'], ['b']]);
    runs[0]!.finish();
    expect(await a).toBe('A');
    await tick();
    expect(runs.map((run) => run.inputs)).toEqual([['a'], ['b'], ['c', 'd']]);
    const e = calls.call('e');
    expect(runs.map((run) => run.inputs)).toEqual([['a'], ['b'], ['c', 'd']]);
    runs[1]!.finish();
    runs[2]!.finish();
    expect(await Promise.all([b, ...waiting])).toEqual(['B', 'C', 'D']);
    await tick();
    expect(runs.at(-1)!.inputs).toEqual(['e']);
    runs.at(-1)!.finish();
    expect(await e).toBe('E');
  });
});
