/** The contract's local default POSTGRES_URL: the local stack's Postgres, port 5432. */
export const defaultPostgresUrl = 'postgres://postgres:postgres@127.0.0.1:5432/ecommerce';

/** The port of the local stack's PgBouncer (scripts/services.sh starts it, docker-compose.yml too). */
export const localPgBouncerPort = 6432;

/**
 * `npm run dev`, `npm test` and the bench reach Postgres the way the app does in Azure: through a
 * PgBouncer in transaction mode. A POSTGRES_URL naming the local stack's Postgres (127.0.0.1 or localhost,
 * port 5432: the contract's default, and what the helpers' env files name) is moved to the PgBouncer in
 * front of it, and the URL as given becomes POSTGRES_DIRECT_URL, the session connection for LISTEN and
 * the migrations, unless one is set. Any other URL (a remote server, a private test instance) is left as
 * it is. Returns the variables it changed.
 */
export function routeThroughLocalPgBouncer(env: NodeJS.ProcessEnv): Record<string, string> {
  const given = env.POSTGRES_URL || defaultPostgresUrl;
  const url = new URL(given);
  if (!['127.0.0.1', 'localhost'].includes(url.hostname) || (url.port || '5432') !== '5432') return {};
  url.port = String(localPgBouncerPort);
  const changed: Record<string, string> = { POSTGRES_URL: url.toString() };
  if (!env.POSTGRES_DIRECT_URL) changed.POSTGRES_DIRECT_URL = given;
  Object.assign(env, changed);
  return changed;
}

/** The same URL naming another database (a test's own). */
export function withDatabase(postgresUrl: string, database: string): string {
  const url = new URL(postgresUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
