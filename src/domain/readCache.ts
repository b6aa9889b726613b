/**
 * A cache for read results. `invalidate` is called after every change the reads depend on, and
 * `getOrLoad` never answers with data loaded before the last `invalidate`.
 */
export interface ReadCache {
  getOrLoad<T>(key: string, load: () => Promise<T>): Promise<T>;
  invalidate(): void;
}

/** Every read goes to the source. */
export const noReadCache: ReadCache = {
  getOrLoad: (_key, load) => load(),
  invalidate: () => undefined,
};
