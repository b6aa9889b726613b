import { describe, expect, it } from 'vitest';
import { ReadThroughCache } from '../../src/app/readThroughCache.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function countingLoader<T>(value: () => T) {
  const loader = async () => {
    loader.calls++;
    return value();
  };
  loader.calls = 0;
  return loader;
}

describe('read-through cache', () => {
  const enabledCache = (now = () => 0, maxEntries = 10) => {
    const cache = new ReadThroughCache({ maxAgeMs: 1_000, maxEntries, now });
    cache.setEnabled(true);
    return cache;
  };

  it('when a key is read twice, then the second read is served without loading', async () => {
    const cache = enabledCache();
    const load = countingLoader(() => 'page');
    expect(await cache.getOrLoad('k', load)).toBe('page');
    expect(await cache.getOrLoad('k', load)).toBe('page');
    expect(load.calls).toBe(1);
  });

  it('when a value is stored, then its plain objects and arrays are frozen all the way down, so no caller can change what later callers get', async () => {
    const cache = enabledCache();
    const page = { items: [{ id: 'a', images: [{ url: 'u' }] }], nextCursor: null };
    const first = await cache.getOrLoad('k', async () => page);
    expect([first, first.items, first.items[0], first.items[0]!.images, first.items[0]!.images[0]].every((part) => Object.isFrozen(part))).toBe(true);
    expect(() => {
      (first.items[0] as { id: string }).id = 'changed';
    }).toThrow(TypeError);
    expect((await cache.getOrLoad('k', async () => page)).items[0]!.id).toBe('a');
  });

  it('when it is not enabled (no change feed), then every read loads', async () => {
    const cache = new ReadThroughCache({ maxAgeMs: 1_000, maxEntries: 10 });
    const load = countingLoader(() => 'page');
    await cache.getOrLoad('k', load);
    await cache.getOrLoad('k', load);
    expect(load.calls).toBe(2);
  });

  it('when invalidated, then the next read loads again', async () => {
    const cache = enabledCache();
    let version = 1;
    const load = countingLoader(() => version);
    await cache.getOrLoad('k', load);
    version = 2;
    cache.invalidate();
    expect(await cache.getOrLoad('k', load)).toBe(2);
  });

  it('when an entry is older than the maximum age, then it is loaded again', async () => {
    let now = 0;
    const cache = enabledCache(() => now);
    const load = countingLoader(() => now);
    await cache.getOrLoad('k', load);
    now = 1_000;
    expect(await cache.getOrLoad('k', load)).toBe(0);
    now = 1_001;
    expect(await cache.getOrLoad('k', load)).toBe(1_001);
  });

  it('when many reads miss the same key at once, then they share one load', async () => {
    const cache = enabledCache();
    const gate = deferred<string>();
    let calls = 0;
    const load = () => {
      calls++;
      return gate.promise;
    };
    const reads = Array.from({ length: 50 }, () => cache.getOrLoad('k', load));
    gate.resolve('page');
    expect(await Promise.all(reads)).toEqual(Array(50).fill('page'));
    expect(calls).toBe(1);
  });

  it('when a change lands while a load is running, then that load answers its callers but is not kept, and later reads do not join it', async () => {
    const cache = enabledCache();
    const before = deferred<string>();
    const inFlight = cache.getOrLoad('k', () => before.promise);
    cache.invalidate();
    const after = cache.getOrLoad('k', async () => 'after');
    before.resolve('before');
    expect(await inFlight).toBe('before');
    expect(await after).toBe('after');
    expect(await cache.getOrLoad('k', async () => 'unused')).toBe('after');
  });

  it('when disabled while a load is running, then its result is not kept', async () => {
    const cache = enabledCache();
    const gate = deferred<string>();
    const read = cache.getOrLoad('k', () => gate.promise);
    cache.setEnabled(false);
    cache.setEnabled(true);
    gate.resolve('stale');
    await read;
    expect(await cache.getOrLoad('k', async () => 'fresh')).toBe('fresh');
  });

  it('when a load fails, then the failure reaches the callers and nothing is cached', async () => {
    const cache = enabledCache();
    await expect(cache.getOrLoad('k', () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    expect(await cache.getOrLoad('k', async () => 'ok')).toBe('ok');
  });

  it('when full, then the oldest entry makes room', async () => {
    const cache = enabledCache(() => 0, 2);
    await cache.getOrLoad('a', async () => 'a');
    await cache.getOrLoad('b', async () => 'b');
    await cache.getOrLoad('c', async () => 'c');
    const reloadA = countingLoader(() => 'a2');
    const reloadC = countingLoader(() => 'c2');
    expect(await cache.getOrLoad('a', reloadA)).toBe('a2');
    expect(await cache.getOrLoad('c', reloadC)).toBe('c');
    expect(reloadC.calls).toBe(0);
  });
});
