import type pg from 'pg';

/** Calls `seen` with the text of every statement sent on any client `pool` hands out, from now on. */
export function onStatements(pool: pg.Pool, seen: (text: string) => void): void {
  pool.on('acquire', (client: pg.PoolClient & { watched?: boolean }) => {
    if (client.watched) return;
    client.watched = true;
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => {
      if (typeof args[0] === 'string') seen(args[0]);
      return query(...args);
    };
  });
}

/** The most clients of `pool` checked out at once, from now on (read `most()` at the end). */
export function connectionsInUse(pool: pg.Pool): { most: () => number } {
  let inUse = 0;
  let most = 0;
  pool.on('acquire', () => (most = Math.max(most, ++inUse)));
  pool.on('release', () => inUse--);
  return { most: () => most };
}
