/**
 * Lookups by key that arrive while one is running are answered together by the next single
 * statement (`load` over all their keys): one round trip and one Postgres transaction for many
 * requests under load, none waiting when there is no load (an idle lookup starts at once).
 * A failed `load` fails every lookup it was answering, as their own statements would have.
 */
export class CoalescedLookup<K, R> {
  #waiting: { key: K; resolve: (row: R | undefined) => void; reject: (error: unknown) => void }[] = [];
  #running = false;

  constructor(
    /** Answers the rows found for `keys`, by `idOf` of their key. */
    private readonly load: (keys: K[]) => Promise<Map<string, R>>,
    private readonly idOf: (key: K) => string,
    private readonly maxKeys = 200,
  ) {}

  get(key: K): Promise<R | undefined> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ key, resolve, reject });
      if (!this.#running) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running = true;
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, this.maxKeys);
      try {
        const found = await this.load(batch.map((entry) => entry.key));
        for (const entry of batch) entry.resolve(found.get(this.idOf(entry.key)));
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    }
    this.#running = false;
  }
}
