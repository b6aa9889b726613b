import pg from 'pg';
import { AppError, dependencyUnavailable } from '../../errors.js';

export type Db = pg.Pool;
export type DbClient = pg.PoolClient;

/** Bounds a statement stuck behind a lock or a dying server; callers turn it into a 503 or a retry. */
export const statementTimeoutMs = 10_000;

/** How long a caller waits for a pooled connection before its request or invocation fails into a retry. */
export const connectionTimeoutMs = 3_000;

/** A password for each new connection: an Entra access token in Azure (entraToken.ts); absent, the URL's. */
export type PostgresPassword = () => Promise<string>;

export function createPool(connectionString: string, max: number, password?: PostgresPassword): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    ...(password && { password }),
    max,
    connectionTimeoutMillis: connectionTimeoutMs,
    idleTimeoutMillis: 30_000,
    // The server's statement_timeout (10 s) is the role's default in this database (migrate.ts): a
    // startup parameter would be refused by PgBouncer, a SET would not follow the transaction to its
    // server connection. This bounds the wait for an answer just past it.
    query_timeout: statementTimeoutMs + 2_000,
  });
  // A client losing its server (restart) must not crash the process: idle clients report through the
  // pool, but a checked-out client between queries (a transaction, the relay awaiting confirms) emits
  // on itself. Its next query fails, and the pool discards it on release.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

const unavailableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/** True for errors that mean "Postgres is down or restarting", not "this statement is wrong". */
export function isPostgresUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: string }).code ?? '';
  // 08: connection exceptions; 57P: operator intervention (shutdown, restart); 53300: too many connections.
  if (code.startsWith('08') || code.startsWith('57P') || code === '53300' || unavailableCodes.has(code)) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/i.test(error.message);
}

// Deadlock, serialization failure: Postgres rolled the whole transaction back, and the same one run again usually succeeds.
const victimSqlStates = new Set(['40P01', '40001']);

/** True when Postgres aborted the transaction (or statement) as the loser of a conflict with a concurrent one. */
export function isConflictVictim(error: unknown): boolean {
  const codeOf = (value: unknown) => (value as { code?: unknown } | undefined)?.code;
  return [error, (error as { cause?: unknown } | undefined)?.cause].some((candidate) => victimSqlStates.has(codeOf(candidate) as string));
}

/** A conflict victim as callers answer it: 503 with Retry-After, since nothing is wrong with the request. */
function conflictVictim(error: unknown): AppError {
  return new AppError('dependency_unavailable', 'postgres aborted the transaction in a conflict with a concurrent one; try again', {
    cause: error,
    headers: { 'Retry-After': '1' },
  });
}

/** Unavailability (503) and conflict victims (503, retry) as AppErrors; any other error as it is. */
function asCallerError(error: unknown): unknown {
  if (isPostgresUnavailable(error)) return dependencyUnavailable('postgres', error);
  return isConflictVictim(error) ? conflictVictim(error) : error;
}

/**
 * Runs `work` in a transaction on `client`; rolls back on error. Unavailability and conflict victims
 * become 503 AppErrors. A client whose ROLLBACK failed is broken: `onBroken` gets it, to release it as such.
 */
export async function transactionOn<T>(client: pg.PoolClient, work: (client: pg.PoolClient) => Promise<T>, onBroken: (error: unknown) => void): Promise<T> {
  try {
    await client.query('BEGIN');
    const result = await work(client);
    // A work that caught a failed statement leaves the transaction aborted: Postgres answers its COMMIT
    // with ROLLBACK and no error, and nothing of it was written.
    const { command } = await client.query('COMMIT');
    if (command !== 'COMMIT') throw new Error(`the transaction was rolled back (${command}): a statement of it failed`);
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(onBroken);
    throw asCallerError(error);
  }
}

/** A connection from the pool; failing to get one is a 503 AppError. */
export async function connect(pool: pg.Pool): Promise<pg.PoolClient> {
  return pool.connect().catch((error: unknown) => {
    throw dependencyUnavailable('postgres', error);
  });
}

/** Runs `work` in a transaction on a client of its own (transactionOn). */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await connect(pool);
  let broken: unknown;
  try {
    return await transactionOn(client, work, (error) => (broken = error));
  } finally {
    client.release(broken instanceof Error ? broken : undefined);
  }
}

/**
 * A pool query whose unavailability or conflict abort becomes a 503 AppError. Unnamed: a named prepared statement lives on
 * one server connection, and PgBouncer's transaction pooling hands the next query another one.
 */
export async function query<R extends pg.QueryResultRow>(pool: pg.Pool, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  try {
    return await pool.query<R>(text, values);
  } catch (error) {
    throw asCallerError(error);
  }
}
