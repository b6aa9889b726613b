import { readdirSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import pg from 'pg';
import { parseProcStat, parseRabbitCounters, treeTicksByCommand, type PostgresSnapshot, type ProcStat } from './capacity.js';

/*
 * Counter snapshots for the capacity benchmark, taken between steps: CPU per process tree
 * (/proc), Postgres (pg_stat_database, pg_stat_wal, pg_stat_statements), Redis (INFO) and the
 * broker's global counters (rabbitmqctl). Each bench step reports the deltas per order.
 */

// ---------- CPU ----------

export const clockTicksPerSecond = 100; // USER_HZ on Linux (getconf CLK_TCK)

function allProcStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      out.push(parseProcStat(readFileSync(`/proc/${entry}/stat`, 'utf8')));
    } catch {
      // the process exited between the listing and the read
    }
  }
  return out;
}

/** Processes whose command line contains `needle` (e.g. Redis renames itself `redis-server 127.0.0.1:<port>`). */
export function pidsMatching(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(needle)) out.push(Number(entry));
    } catch {
      // exited
    }
  }
  return out;
}

export interface ProcessGroup {
  /** Re-resolved at every snapshot (a restarted host has a new pid). */
  roots: () => number[];
  /** Only the roots' own threads, not their children (the bench process, whose children are the host and rabbitmqctl). */
  selfOnly?: boolean;
  /** Also report the group's CPU by command name (the real host's .NET process apart from its Node worker). */
  byCommand?: boolean;
}

export interface CpuSnapshot {
  atMs: number;
  ticks: Record<string, number>;
  /** For groups with `byCommand`: ticks per command name. */
  commands: Record<string, Record<string, number>>;
  /** The whole machine from /proc/stat: busy and total ticks over all cores. */
  machineBusyTicks: number;
  machineTotalTicks: number;
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busy, total: busy + idle! + iowait! };
}

export function cpuSnapshot(groups: Record<string, ProcessGroup>): CpuSnapshot {
  const processes = allProcStats();
  const machine = machineTicks();
  const ticks: Record<string, number> = {};
  const commands: Record<string, Record<string, number>> = {};
  for (const [name, group] of Object.entries(groups)) {
    const byCommand = treeTicksByCommand(processes, group.roots(), group.selfOnly);
    ticks[name] = Object.values(byCommand).reduce((a, b) => a + b, 0);
    if (group.byCommand) commands[name] = byCommand;
  }
  return { atMs: Date.now(), ticks, commands, machineBusyTicks: machine.busy, machineTotalTicks: machine.total };
}

/** CPU seconds per group between two snapshots, cores busy over the interval, and the machine's other load. */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot) {
  const seconds = (after.atMs - before.atMs) / 1000;
  const cpuSeconds: Record<string, number> = {};
  for (const name of Object.keys(after.ticks)) cpuSeconds[name] = (after.ticks[name]! - (before.ticks[name] ?? 0)) / clockTicksPerSecond;
  const commandSeconds: Record<string, Record<string, number>> = {};
  for (const [group, after_] of Object.entries(after.commands)) {
    commandSeconds[group] = {};
    for (const [command, ticks] of Object.entries(after_)) commandSeconds[group][command] = (ticks - (before.commands[group]?.[command] ?? 0)) / clockTicksPerSecond;
  }
  const ours = Object.values(cpuSeconds).reduce((a, b) => a + b, 0);
  const machineBusy = (after.machineBusyTicks - before.machineBusyTicks) / clockTicksPerSecond;
  const cores = (after.machineTotalTicks - before.machineTotalTicks) / clockTicksPerSecond / seconds;
  return {
    seconds,
    cpuSeconds,
    commandSeconds,
    machineCoresBusy: machineBusy / seconds,
    machineCores: Math.round(cores),
    /** Load on the machine outside the measured processes (other users of the box). */
    otherCoresBusy: Math.max(0, machineBusy - ours) / seconds,
  };
}

// ---------- Postgres ----------


/**
 * Reads the statistics of one database from a client on another (`postgres`), so the snapshot's
 * own queries are not counted; statements of the bench's observer role are left out too.
 */
export class PostgresStats {
  private constructor(
    private readonly client: pg.Client,
    private readonly database: string,
    private readonly excludedRole: string,
  ) {}

  /** `adminUrl` is a superuser URL on the instance; pg_stat_statements must be in shared_preload_libraries. */
  static async open(adminUrl: string, database: string, excludedRole: string): Promise<PostgresStats> {
    const url = new URL(adminUrl);
    url.pathname = '/postgres';
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    return new PostgresStats(client, database, excludedRole);
  }

  async snapshot(): Promise<PostgresSnapshot> {
    const { rows: db } = await this.client.query<Record<string, string>>(
      `SELECT d.xact_commit, d.xact_rollback, d.tup_inserted, d.tup_updated, d.tup_deleted, d.tup_returned, d.tup_fetched,
              w.wal_records, w.wal_bytes, w.wal_write, w.wal_sync
         FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = $1`,
      [this.database],
    );
    const { rows: statements } = await this.client.query<{ queryid: string; calls: string; exec_ms: number; query: string }>(
      `SELECT s.queryid::text, s.calls, s.total_exec_time AS exec_ms, s.query
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname = $1 AND s.userid <> $2::regrole`,
      [this.database, this.excludedRole],
    );
    return {
      database: Object.fromEntries(Object.entries(db[0] ?? {}).map(([k, v]) => [k, Number(v)])),
      statements: new Map(statements.map((s) => [s.queryid, { calls: Number(s.calls), execMs: Number(s.exec_ms), query: s.query }])),
    };
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

// ---------- Redis ----------

/** Redis `INFO stats` counters over a plain socket (one command; the snapshot's own INFO is subtracted by the caller). */
export function redisStats(port: number): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let reply = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('redis INFO timed out')));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      const header = /^\$(\d+)\r\n/.exec(reply);
      if (header && Buffer.byteLength(reply) >= header[0].length + Number(header[1])) {
        socket.end();
        const out: Record<string, number> = {};
        for (const [, key, value] of reply.matchAll(/^(total_commands_processed|total_connections_received|total_net_input_bytes|total_net_output_bytes):(\d+)/gm)) out[key!] = Number(value);
        resolve(out);
      }
    });
    socket.on('error', reject);
    socket.connect(port, '127.0.0.1', () => socket.write('INFO stats\r\n'));
  });
}

// ---------- RabbitMQ ----------

/** The broker's global counters (publishes received and confirmed, deliveries, acks), summed over queue types. */
export async function rabbitCounters(ctl: (args: string[]) => Promise<unknown>): Promise<Record<string, number>> {
  const { stdout } = (await ctl(['eval', 'rabbit_global_counters:overview().'])) as { stdout: string };
  const all = parseRabbitCounters(stdout);
  const keep = ['messages_received_total', 'messages_received_confirm_total', 'messages_routed_total', 'messages_confirmed_total', 'messages_delivered_total', 'messages_acknowledged_total', 'messages_redelivered_total'];
  return Object.fromEntries(keep.filter((k) => k in all).map((k) => [k, all[k]!]));
}
