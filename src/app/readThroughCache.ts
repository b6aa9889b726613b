import type { ReadCache } from '../domain/readCache.js';

export interface ReadThroughCacheOptions {
  /** Upper bound on staleness should an invalidation ever be missed. */
  maxAgeMs: number;
  maxEntries: number;
  now?: () => number;
}

/**
 * An in-process read-through cache that caches only while it is enabled, i.e. while whoever owns it
 * can see every change (see ProductChangeListener). Concurrent misses for one key share one load,
 * so an invalidation under load costs one query per key, not one per waiting request; a load that
 * started before an invalidation is answered to its callers but never stored. A stored value is
 * shared by every caller until it goes, so its plain objects and arrays are frozen: a caller that
 * changed one would change later answers (and the HTTP layer serialises a frozen body only once).
 */
export class ReadThroughCache implements ReadCache {
  readonly #entries = new Map<string, { value: unknown; loadedAt: number }>();
  readonly #loading = new Map<string, Promise<unknown>>();
  readonly #now: () => number;
  #generation = 0;
  #enabled = false;

  constructor(private readonly options: ReadThroughCacheOptions) {
    this.#now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** Turns caching on or off; either way, what is cached now is dropped. */
  setEnabled(enabled: boolean): void {
    this.#enabled = enabled;
    this.invalidate();
  }

  invalidate(): void {
    this.#generation++;
    this.#entries.clear();
    this.#loading.clear();
  }

  getOrLoad<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (!this.#enabled) return load();
    const startedAt = this.#now();
    const hit = this.#entries.get(key);
    if (hit && startedAt - hit.loadedAt <= this.options.maxAgeMs) return Promise.resolve(hit.value as T);
    const pending = this.#loading.get(key);
    if (pending) return pending as Promise<T>;

    const generation = this.#generation;
    const loading = load().then((value) => {
      if (generation === this.#generation) this.#store(key, deepFreeze(value), startedAt);
      return value;
    });
    this.#loading.set(key, loading);
    const forget = () => {
      if (this.#loading.get(key) === loading) this.#loading.delete(key);
    };
    loading.then(forget, forget);
    return loading;
  }

  #store(key: string, value: unknown, loadedAt: number): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.options.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, loadedAt });
  }
}

/** Freezes plain objects and arrays, and those they hold; other objects (a Map, a Date) are left as they are. */
function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (!Array.isArray(value) && prototype !== Object.prototype && prototype !== null) return value;
  for (const held of Object.values(value)) deepFreeze(held);
  return Object.freeze(value);
}
