import type pg from 'pg';
import { inTransaction } from './pool.js';

interface Pending {
  work: (client: pg.PoolClient) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
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
 * The batches of one GroupCommit run one at a time, so they cannot deadlock with each other. A batch
 * holds the row locks of all its works until its commit; two GroupCommits' batches (another lane,
 * another process) that lock the same rows in opposite orders can deadlock, which Postgres breaks
 * (40P01: the batch's works run again alone, and a lone one that fails again is a transient error
 * the consumers retry).
 */
export class GroupCommit {
  #queue: Pending[] = [];
  #draining = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly maxBatch = 64,
  ) {}

  run<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#draining) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.maxBatch);
        if (batch.length === 1 || !(await this.#together(batch))) await Promise.all(batch.map((entry) => this.#alone(entry)));
      }
    } finally {
      this.#draining = false;
    }
  }

  /** Runs the batch as one transaction; false (rolled back, nobody answered) when a work threw before the commit. */
  async #together(batch: Pending[]): Promise<boolean> {
    const results: unknown[] = [];
    try {
      await inTransaction(this.pool, async (client) => {
        for (const entry of batch) results.push(await entry.work(client));
      });
    } catch (error) {
      // All works ran and only the COMMIT (or the connection) failed: that is every caller's answer.
      if (results.length === batch.length) {
        for (const entry of batch) entry.reject(error);
        return true;
      }
      return false;
    }
    batch.forEach((entry, i) => entry.resolve(results[i]));
    return true;
  }

  async #alone(entry: Pending): Promise<void> {
    try {
      entry.resolve(await inTransaction(this.pool, entry.work));
    } catch (error) {
      entry.reject(error);
    }
  }
}
