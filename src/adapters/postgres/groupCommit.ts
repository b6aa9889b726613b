import type pg from 'pg';
import { connect, inTransaction, isConflictVictim, transactionOn } from './pool.js';

/**
 * A lone transaction Postgres picked as a deadlock or serialization victim was rolled back whole, so
 * running it again is safe (works may run twice) and usually succeeds. Bounded: a caller that still
 * fails gets the 503 inTransaction makes of it (the consumers retry it as transient).
 */
const loneAttempts = 3;

/**
 * One statement that opens many works at once: a batch's works that open with the same BatchOpening
 * get their answers from one call, one round trip for all of them.
 */
export interface BatchOpening<I, O> {
  /**
   * One answer per input, in their order, each as if the inputs before it had been opened on their
   * own just before; inside the transaction, before any other work of the batch.
   */
  open(client: pg.PoolClient, inputs: I[]): Promise<O[]>;
}

interface Pending<S> {
  work: (client: pg.PoolClient, shared: S, opened: unknown) => Promise<unknown>;
  opening?: { batch: BatchOpening<unknown, unknown>; input: unknown };
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * What the works of one transaction collect to write together right before its COMMIT (one
 * statement for the whole batch instead of one per work), e.g. their outbox rows.
 */
export interface SharedWrites<S> {
  /** An empty collection, for one transaction. */
  open(): S;
  /** Writes what the works collected, inside the transaction; a failure here rolls it back like a failed work. */
  write(client: pg.PoolClient, collected: S): Promise<void>;
}

/**
 * Group commit: transactions that arrive while one is running share the next Postgres transaction,
 * one after the other on one connection, and each caller is answered only after that shared COMMIT
 * (so an answer still means committed). With nothing in flight a transaction starts at once, alone:
 * batches form only under load, and grow with it, so the commits per unit of work fall as load rises.
 *
 * Works must touch nothing but the database through `client` (they may be run twice). If one throws,
 * the shared transaction is rolled back and every work of the batch runs again in a transaction of
 * its own, so one failure never decides another's outcome. A failed COMMIT fails every caller of the
 * batch, as it would a lone transaction's caller.
 *
 * Works that open with a BatchOpening (runOpened) run first in their batch: one call opens all of them,
 * then each goes on with its answer, in arrival order, before the batch's other works. Any order of a
 * batch's works is one they could have arrived in (all were waiting at once), and no plain work sees
 * an opened work's state between its opening and its end. The openings after an opened work run before
 * the rest of it, so what that rest writes must not change their answers (a rejected placement moves
 * only its own order).
 *
 * A GroupCommit keeps one pooled connection while it has work and runs its batches on it, one after
 * another, so under load a batch never waits in the pool's queue behind other callers' statements; it
 * gives the connection back once its queue is empty, and replaces one that broke. Works of a failed
 * batch run again alone at once, each on a connection of its own from the pool.
 *
 * The batches of one GroupCommit run one at a time, so they cannot deadlock with each other. A batch
 * holds the row locks of all its works until its commit; two GroupCommits' batches (another lane,
 * another process) that lock the same rows in opposite orders can deadlock, which Postgres breaks
 * (40P01: the batch's works run again alone). A transaction run alone (a batch of one included) that
 * Postgres picks as a deadlock victim runs again, up to three times, and then fails with a 503 that
 * says to retry: it is a conflict that resolves itself, not a fault of the request.
 */
export class GroupCommit<S = undefined> {
  #queue: Pending<S>[] = [];
  #draining = false;
  /** The connection the lane keeps while it has work, so its batches never wait in the pool's queue. */
  #kept: pg.PoolClient | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly shared?: SharedWrites<S>,
    private readonly maxBatch = 64,
  ) {}

  /** `work` gets the transaction's client and the collection of its shared writes (`undefined` without them). */
  run<T>(work: (client: pg.PoolClient, shared: S) => Promise<T>): Promise<T> {
    return this.#enqueue({ work });
  }

  /** As run, with `work` given its answer from `batch`'s one call for the batch (`input` is its part of it). */
  runOpened<I, O, T>(batch: BatchOpening<I, O>, input: I, work: (client: pg.PoolClient, shared: S, opened: O) => Promise<T>): Promise<T> {
    return this.#enqueue({ work: work as Pending<S>['work'], opening: { batch: batch as BatchOpening<unknown, unknown>, input } });
  }

  #enqueue<T>(entry: Pick<Pending<S>, 'work' | 'opening'>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ ...entry, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#draining) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.maxBatch);
        if (batch.length === 1) await this.#alone(batch[0]!, (work) => this.#onKept(work));
        else if (!(await this.#together(batch))) await Promise.all(batch.map((entry) => this.#alone(entry, (work) => inTransaction(this.pool, work))));
      }
    } finally {
      this.#draining = false;
      this.#kept?.release();
      this.#kept = undefined;
    }
  }

  /** Runs `work` in a transaction on the kept connection, taken from the pool when there is none; a broken one is dropped. */
  async #onKept<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = (this.#kept ??= await connect(this.pool));
    return transactionOn(client, work, (broken) => {
      this.#kept = undefined;
      client.release(broken instanceof Error ? broken : new Error(String(broken)));
    });
  }

  /** Runs the batch as one transaction; false (rolled back, nobody answered) when a work or the shared writes threw before the commit. */
  async #together(batch: Pending<S>[]): Promise<boolean> {
    const results: unknown[] = [];
    let committing = false;
    try {
      await this.#onKept(async (client) => {
        await this.#works(client, batch, results);
        committing = true;
      });
    } catch (error) {
      // All works and the shared writes ran and only the COMMIT (or the connection) failed: that is every caller's answer.
      if (committing) {
        for (const entry of batch) entry.reject(error);
        return true;
      }
      return false;
    }
    batch.forEach((entry, i) => entry.resolve(results[i]));
    return true;
  }

  /**
   * Opens the opened works (one call per BatchOpening), runs them and then the others one after another
   * on `client`, then their shared writes; each work's result goes to `results`, at its entry's index.
   */
  async #works(client: pg.PoolClient, entries: Pending<S>[], results: unknown[]): Promise<void> {
    const shared = this.shared?.open() as S;
    const opened = await openings(client, entries);
    const indices = [...entries.keys()];
    const openedFirst = [...indices.filter((i) => opened.has(entries[i]!)), ...indices.filter((i) => !opened.has(entries[i]!))];
    for (const i of openedFirst) results[i] = await entries[i]!.work(client, shared, opened.get(entries[i]!));
    await this.shared?.write(client, shared);
  }

  /** Runs one work in a transaction of its own (on `transaction`), again while Postgres picks it as a deadlock or serialization victim. */
  async #alone(entry: Pending<S>, transaction: (work: (client: pg.PoolClient) => Promise<void>) => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const results: unknown[] = [];
      try {
        await transaction((client) => this.#works(client, [entry], results));
        entry.resolve(results[0]);
        return;
      } catch (error) {
        if (attempt < loneAttempts && isConflictVictim(error)) continue;
        entry.reject(error);
        return;
      }
    }
  }
}

/** Each opened entry's answer: one call per BatchOpening, with its entries' inputs in arrival order. */
async function openings<S>(client: pg.PoolClient, entries: Pending<S>[]): Promise<Map<Pending<S>, unknown>> {
  const byBatch = new Map<BatchOpening<unknown, unknown>, Pending<S>[]>();
  for (const entry of entries) {
    if (!entry.opening) continue;
    const group = byBatch.get(entry.opening.batch) ?? [];
    group.push(entry);
    byBatch.set(entry.opening.batch, group);
  }
  const answers = new Map<Pending<S>, unknown>();
  for (const [batch, opened] of byBatch) {
    const outputs = await batch.open(client, opened.map((entry) => entry.opening!.input));
    if (outputs.length !== opened.length) throw new Error(`a batch opening answered ${outputs.length} times for ${opened.length} works`);
    opened.forEach((entry, i) => answers.set(entry, outputs[i]));
  }
  return answers;
}
