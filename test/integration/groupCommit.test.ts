import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupCommit, type BatchOpening, type SharedWrites } from '../../src/adapters/postgres/groupCommit.js';
import { createPool } from '../../src/adapters/postgres/pool.js';

const postgresUrl = process.env.POSTGRES_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/ecommerce';

/** A real pool, as the app makes it (a client that loses its server reports it, not the process), that counts the COMMITs sent on the clients it hands out. */
function countingPool(): pg.Pool & { commits: number } {
  const pool = Object.assign(createPool(postgresUrl, 8), { commits: 0 });
  pool.on('acquire', (client: pg.PoolClient & { counted?: boolean }) => {
    if (client.counted) return;
    client.counted = true;
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => {
      if (args[0] === 'COMMIT') pool.commits++;
      return query(...args);
    };
  });
  return pool;
}

/** A promise and what settles it (Promise.withResolvers is not in Node 20). */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((settle) => (resolve = settle));
  return { promise, resolve };
}

/** A BatchOpening that records each call's inputs in `calls`, makes a round trip, and answers `answer(inputs)`. */
function recordedOpening(calls: number[][], answer: (inputs: number[]) => number[]): BatchOpening<number, number> {
  return {
    async open(client, inputs) {
      calls.push(inputs);
      await client.query('SELECT 1');
      return answer(inputs);
    },
  };
}

describe('group commit on real Postgres', () => {
  let pool: ReturnType<typeof countingPool>;
  const table = `group_commit_test_${process.pid}`;

  beforeAll(async () => {
    pool = countingPool();
    await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY)`);
  });
  afterAll(async () => {
    await pool?.query(`DROP TABLE IF EXISTS ${table}`);
    await pool?.end();
  });

  const committed = async (ids: number[]) => (await pool.query<{ id: number }>(`SELECT id FROM ${table} WHERE id = ANY($1::int[]) ORDER BY id`, [ids])).rows.map((row) => row.id);

  it('when 100 transactions arrive at once, then each is answered with its result once its row is committed, in far fewer commits than transactions', async () => {
    const group = new GroupCommit(pool);
    const ids = Array.from({ length: 100 }, (_, i) => 1_000 + i);
    pool.commits = 0;
    const answers = await Promise.all(
      ids.map((id) =>
        group.run(async (client) => {
          await client.query(`INSERT INTO ${table} (id) VALUES ($1)`, [id]);
          return id;
        }).then(async (answer) => ({ answer, visible: (await committed([id])).length === 1 })),
      ),
    );
    expect(answers.map((a) => a.answer)).toEqual(ids);
    // Read on another connection right after the answer: the row was committed before it.
    expect(answers.every((a) => a.visible)).toBe(true);
    expect(pool.commits).toBeGreaterThan(0);
    expect(pool.commits).toBeLessThan(10);
  });

  it('when batches follow one another under load, then the lane runs them all on one connection it keeps, and gives it back once it has no work', async () => {
    const own = createPool(postgresUrl, 8);
    let acquired = 0;
    own.on('acquire', () => acquired++);
    try {
      const group = new GroupCommit(own, undefined, 10);
      const ids = Array.from({ length: 50 }, (_, i) => 1_500 + i);
      const backends = await Promise.all(
        ids.map((id) =>
          group.run(async (client) => {
            await client.query(`INSERT INTO ${table} (id) VALUES ($1)`, [id]);
            return (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
          }),
        ),
      );
      // The first alone, then five batches of at most ten: one connection for all of them.
      expect(new Set(backends).size).toBe(1);
      expect(acquired).toBe(1);
      expect(own.totalCount - own.idleCount).toBe(0);
      expect(await committed(ids)).toEqual(ids);
    } finally {
      await own.end();
    }
  });

  it('when the kept connection is lost during a transaction, then that transaction fails as an outage, and the works after it run on a new connection', async () => {
    const group = new GroupCommit(pool);
    const started = signal();
    const release = signal();
    let lostPid = 0;
    const lost = group.run(async (client) => {
      lostPid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      started.resolve();
      await release.promise;
    });
    await started.promise;
    // Two more wait for the first, then share the next batch, after its connection was lost.
    const next = [3_100, 3_101].map((id) =>
      group.run(async (client) => {
        await client.query(`INSERT INTO ${table} (id) VALUES ($1)`, [id]);
        return (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      }),
    );
    await pool.query('SELECT pg_terminate_backend($1)', [lostPid]);
    // PgBouncer tells the client its server is gone while it waits between two statements.
    await new Promise((resolve) => setTimeout(resolve, 100));
    release.resolve();
    await expect(lost).rejects.toMatchObject({ code: 'dependency_unavailable', status: 503 });
    const pids = await Promise.all(next);
    expect(pids[0]).toBe(pids[1]);
    expect(pids[0]).not.toBe(lostPid);
    expect(await committed([3_100, 3_101])).toEqual([3_100, 3_101]);
  });

  it('when one transaction of a batch fails, then it alone fails and rolls back; the others commit', async () => {
    const group = new GroupCommit(pool);
    const ids = Array.from({ length: 20 }, (_, i) => 2_000 + i);
    const failing = 2_007;
    const outcomes = await Promise.allSettled(
      ids.map((id) =>
        group.run(async (client) => {
          await client.query(`INSERT INTO ${table} (id) VALUES ($1)`, [id]);
          if (id === failing) throw new Error('refused after its insert');
          return id;
        }),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason.message)).toEqual(['refused after its insert']);
    expect(await committed(ids)).toEqual(ids.filter((id) => id !== failing));
  });

  it('when a statement of a batch fails (the transaction is aborted), then only its caller sees the error', async () => {
    const group = new GroupCommit(pool);
    await pool.query(`INSERT INTO ${table} (id) VALUES (3005)`);
    const ids = Array.from({ length: 10 }, (_, i) => 3_000 + i);
    const outcomes = await Promise.allSettled(ids.map((id) => group.run((client) => client.query(`INSERT INTO ${table} (id) VALUES ($1)`, [id]))));
    expect(outcomes.map((o) => o.status)).toEqual(ids.map((id) => (id === 3_005 ? 'rejected' : 'fulfilled')));
    expect(await committed(ids)).toEqual(ids);
  });

  it('when a work catches its own failed statement and returns, then its caller is told it failed: nothing of it was committed', async () => {
    const group = new GroupCommit(pool);
    await pool.query(`INSERT INTO ${table} (id) VALUES (7001)`);
    const outcome = group.run(async (client) => {
      await client.query(`INSERT INTO ${table} (id) VALUES (7000)`);
      await client.query(`INSERT INTO ${table} (id) VALUES (7001)`).catch(() => undefined);
      return 'done';
    });
    await expect(outcome).rejects.toThrow(/rolled back/);
    expect(await committed([7000])).toEqual([]);
  });

  /** Rows the works collect, inserted by one statement per transaction; an id over 9 000 makes that statement fail. */
  function collectedRows() {
    const counts = { writes: 0 };
    const shared: SharedWrites<number[]> = {
      open: () => [],
      async write(client, ids) {
        counts.writes++;
        if (ids.some((id) => id > 9_000)) throw new Error('refused by the shared write');
        await client.query(`INSERT INTO ${table} (id) SELECT unnest($1::int[])`, [ids]);
      },
    };
    return { counts, shared };
  }

  it('when the works of a batch collect rows, then one statement per transaction writes them before its commit', async () => {
    const { counts, shared } = collectedRows();
    const group = new GroupCommit(pool, shared);
    const ids = Array.from({ length: 100 }, (_, i) => 4_000 + i);
    pool.commits = 0;
    const answers = await Promise.all(ids.map((id) => group.run(async (_client, rows) => (rows.push(id), id)).then(async (answer) => ({ answer, visible: (await committed([id])).length === 1 }))));
    expect(answers.every((a, i) => a.answer === ids[i] && a.visible)).toBe(true);
    expect(counts.writes).toBe(pool.commits);
    expect(counts.writes).toBeLessThan(10);
  });

  it('when the shared write of a batch fails, then its works run again alone: only the one whose row it refuses fails', async () => {
    const { shared } = collectedRows();
    const group = new GroupCommit(pool, shared);
    const ids = [...Array.from({ length: 10 }, (_, i) => 5_000 + i), 9_500];
    const outcomes = await Promise.allSettled(ids.map((id) => group.run(async (_client, rows) => (rows.push(id), id))));
    expect(outcomes.map((o) => o.status)).toEqual(ids.map((id) => (id === 9_500 ? 'rejected' : 'fulfilled')));
    expect(await committed(ids)).toEqual(ids.filter((id) => id !== 9_500));
  });

  it('when a work of a batch fails after collecting its row, then that row is not written and the others are', async () => {
    const { shared } = collectedRows();
    const group = new GroupCommit(pool, shared);
    const ids = Array.from({ length: 10 }, (_, i) => 6_000 + i);
    const outcomes = await Promise.allSettled(
      ids.map((id) =>
        group.run(async (_client, rows) => {
          rows.push(id);
          if (id === 6_004) throw new Error('refused after collecting its row');
          return id;
        }),
      ),
    );
    expect(outcomes.map((o) => o.status)).toEqual(ids.map((id) => (id === 6_004 ? 'rejected' : 'fulfilled')));
    expect(await committed(ids)).toEqual(ids.filter((id) => id !== 6_004));
  });

  it('when the batches of two group commits lock the same rows in opposite orders, then Postgres breaks the deadlock and every work still commits once', async () => {
    // Two lanes (the order store's orders and payments) on one pool: batch [lock 8000, lock 8001] against
    // batch [lock 8001, lock 8000], each holding its first lock until the other holds its own.
    const [first, second] = [8_000, 8_001];
    await pool.query(`INSERT INTO ${table} (id) VALUES ($1), ($2)`, [first, second]);
    const lanes = [new GroupCommit(pool), new GroupCommit(pool)];
    const held = [signal(), signal()];
    const runs = new Map<number, number>();
    const errors: unknown[] = [];
    const work = (lane: number, lock: number, marker: number, holdUntilTheOtherLocks: boolean) => async (client: pg.PoolClient) => {
      runs.set(marker, (runs.get(marker) ?? 0) + 1);
      try {
        await client.query(`SELECT id FROM ${table} WHERE id = $1 FOR UPDATE`, [lock]);
        if (holdUntilTheOtherLocks && runs.get(marker) === 1) {
          held[lane]!.resolve();
          await held[1 - lane]!.promise;
        }
        await client.query(`INSERT INTO ${table} (id) VALUES ($1)`, [marker]);
        return marker;
      } catch (error) {
        errors.push((error as { code?: string }).code);
        throw error;
      }
    };
    // A transaction in flight in each lane, so the two that follow queue up and share the lane's next batch.
    const gates = [signal(), signal()];
    const answers = lanes.flatMap((lane, i) => [
      lane.run(() => gates[i]!.promise),
      lane.run(work(i, i === 0 ? first : second, 8_100 + 10 * i, true)),
      lane.run(work(i, i === 0 ? second : first, 8_101 + 10 * i, false)),
    ]);
    for (const gate of gates) gate.resolve();
    const outcomes = await Promise.allSettled(answers);
    expect(outcomes.map((o) => o.status)).toEqual(Array(6).fill('fulfilled'));
    expect(errors, 'no deadlock happened: nothing was tested').toContain('40P01');
    // The batch Postgres chose was rolled back and its works ran again, alone: each marker committed once.
    expect([...runs.values()].some((n) => n > 1)).toBe(true);
    expect(await committed([8_100, 8_101, 8_110, 8_111])).toEqual([8_100, 8_101, 8_110, 8_111]);
  });
  it('when a transaction running alone is picked as a deadlock victim, then it runs again and its caller gets its result', async () => {
    // A batch of one (nothing else in flight) against a plain transaction locking the same two rows in
    // the opposite order. The lone work waits first, so Postgres's deadlock check picks it.
    const [first, second, marker] = [8_200, 8_201, 8_210];
    await pool.query(`INSERT INTO ${table} (id) VALUES ($1), ($2)`, [first, second]);
    const group = new GroupCommit(pool);
    const [workLocked, otherLocked] = [signal(), signal()];
    const errors: unknown[] = [];
    let runs = 0;
    const answer = group.run(async (client) => {
      runs++;
      try {
        await client.query(`SELECT id FROM ${table} WHERE id = $1 FOR UPDATE`, [first]);
        if (runs === 1) {
          workLocked.resolve();
          await otherLocked.promise;
        }
        await client.query(`SELECT id FROM ${table} WHERE id = $1 FOR UPDATE`, [second]);
        await client.query(`INSERT INTO ${table} (id) VALUES ($1)`, [marker]);
        return marker;
      } catch (error) {
        errors.push((error as { code?: string }).code);
        throw error;
      }
    });
    const other = await pool.connect();
    try {
      await other.query('BEGIN');
      await workLocked.promise;
      await other.query(`SELECT id FROM ${table} WHERE id = $1 FOR UPDATE`, [second]);
      otherLocked.resolve();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await other.query(`SELECT id FROM ${table} WHERE id = $1 FOR UPDATE`, [first]);
      await other.query('COMMIT');
    } finally {
      other.release();
    }
    await expect(answer).resolves.toBe(marker);
    expect(errors, 'the lone work was not the deadlock victim: nothing was tested').toEqual(['40P01']);
    expect(runs).toBe(2);
    expect(await committed([marker])).toEqual([marker]);
  });

  it('when a lone transaction is picked as a conflict victim on every attempt, then it runs three times and its caller gets a 503 that says to retry', async () => {
    // Postgres itself raises the deadlock SQLSTATE (a real server error, as the test above provokes), every run.
    const group = new GroupCommit(pool);
    let runs = 0;
    const answer = group.run(async (client) => {
      runs++;
      await client.query(`DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END $$`);
    });
    await expect(answer).rejects.toMatchObject({ code: 'dependency_unavailable', status: 503, headers: { 'Retry-After': '1' }, cause: { code: '40P01' } });
    expect(runs).toBe(3);
  });

  it('when a lone transaction fails with an error that is not a conflict, then it runs once and its caller gets the error as it is', async () => {
    const group = new GroupCommit(pool);
    let runs = 0;
    const answer = group.run(async (client) => {
      runs++;
      await client.query(`INSERT INTO ${table} (id) VALUES (NULL)`);
    });
    await expect(answer).rejects.toMatchObject({ code: '23502' });
    expect(runs).toBe(1);
  });

  it('when works that open with one BatchOpening wait beside plain works, then one call opens them all, and they run first, in arrival order, each with its answer', async () => {
    const group = new GroupCommit(pool);
    const calls: number[][] = [];
    const tenfold = recordedOpening(calls, (inputs) => inputs.map((n) => n * 10));
    const ran: string[] = [];
    const gate = signal();
    const inFlight = group.run(() => gate.promise);
    const answers = [
      group.run(async () => (ran.push('plain 1'), 'p1')),
      group.runOpened(tenfold, 1, async (_client, _shared, opened) => (ran.push(`opened 1: ${opened}`), opened)),
      group.run(async () => (ran.push('plain 2'), 'p2')),
      group.runOpened(tenfold, 2, async (_client, _shared, opened) => (ran.push(`opened 2: ${opened}`), opened)),
    ];
    gate.resolve();
    await inFlight;
    expect(await Promise.all(answers)).toEqual(['p1', 10, 'p2', 20]);
    expect(calls).toEqual([[1, 2]]);
    expect(ran).toEqual(['opened 1: 10', 'opened 2: 20', 'plain 1', 'plain 2']);
  });

  it('when a batch opening throws, then every work of its batch runs again alone, each opened one with an opening of its own', async () => {
    const group = new GroupCommit(pool);
    const calls: number[][] = [];
    const singlesOnly = recordedOpening(calls, (inputs) => {
      if (inputs.length > 1) throw new Error('refused');
      return inputs;
    });
    const gate = signal();
    const inFlight = group.run(() => gate.promise);
    const answers = [1, 2].map((n) => group.runOpened(singlesOnly, n, async (_client, _shared, opened) => opened));
    const plain = group.run(async () => 'plain');
    gate.resolve();
    await inFlight;
    expect(await Promise.all([...answers, plain])).toEqual([1, 2, 'plain']);
    expect(calls[0]).toEqual([1, 2]);
    expect(calls.slice(1).sort()).toEqual([[1], [2]]);
  });
});
