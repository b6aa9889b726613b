/**
 * Calls that arrive while `parallel` runs (one by default) are out are made together by the next
 * single `run` over all their inputs: one round trip (and, for a write, one commit) for many callers
 * under load, none waiting when there is no load (an idle call starts at once). A failed run fails
 * every call it was making, as their own statements would have, unless `oneByOne(error)` says the
 * statement undid itself for one of them: then each of its inputs is run again alone, and only that
 * one's caller gets the error.
 */
export class Coalesced<I, O> {
  #waiting: { input: I; resolve: (output: O) => void; reject: (error: unknown) => void }[] = [];
  #running = 0;

  constructor(
    /** One output per input, in their order. */
    private readonly run: (inputs: I[]) => Promise<O[]>,
    private readonly options: { maxInputs?: number; parallel?: number; oneByOne?: (error: unknown) => boolean } = {},
  ) {}

  call(input: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ input, resolve, reject });
      if (this.#running < (this.options.parallel ?? 1)) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running++;
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, this.options.maxInputs ?? 200);
      try {
        const outputs = await this.run(batch.map((entry) => entry.input));
        batch.forEach((entry, i) => entry.resolve(outputs[i]!));
      } catch (error) {
        if (batch.length > 1 && this.options.oneByOne?.(error)) {
          for (const entry of batch) await this.run([entry.input]).then(([output]) => entry.resolve(output!), entry.reject);
        } else {
          for (const entry of batch) entry.reject(error);
        }
      }
    }
    this.#running--;
  }
}

/** Lookups by key made together (see Coalesced): `load` answers the rows found for its keys, by `idOf` of their key. */
export class CoalescedLookup<K, R> {
  readonly #calls: Coalesced<K, R | undefined>;

  constructor(load: (keys: K[]) => Promise<Map<string, R>>, idOf: (key: K) => string, maxKeys = 200) {
    this.#calls = new Coalesced(
      async (keys) => {
        const found = await load(keys);
        return keys.map((key) => found.get(idOf(key)));
      },
      { maxInputs: maxKeys },
    );
  }

  get(key: K): Promise<R | undefined> {
    return this.#calls.call(key);
  }
}
