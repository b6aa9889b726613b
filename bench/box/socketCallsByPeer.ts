/**
 * Which processes a running process talks to, and in how many system calls: `strace` on every thread of
 * PID for a few seconds, each read and write counted against the process at the socket's other end
 * (docs/performance.md, issue 21, ninth session). A loopback write usually wakes its reader, so
 * writes per order by peer are the hops an order pays, counted without the noise of CPU time.
 *   npx tsx bench/box/socketCallsByPeer.ts <pid> [seconds=6]
 * Needs `strace` and `ss`, run as root beside the process. Prints JSON: per peer (the process that
 * listens on the other end, or `http clients` for connections the process accepted, `stdout`,
 * `eventfd`) the count of each call, and `acceptedConnectionReads`: read calls, not requests (a
 * non-blocking reader also counts the reads that found nothing).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';

const calls = ['read', 'readv', 'recvfrom', 'recvmsg', 'write', 'writev', 'sendto', 'sendmsg'];

interface Socket {
  localPort: string;
  peerPort: string;
}

const portOf = (address: string) => address.slice(address.lastIndexOf(':') + 1);

/** `ss` rows: the established sockets of `pid` by fd, every listening port's process name, and the ports `pid` listens on. */
function sockets(pid: number): { byFd: Map<number, Socket>; listeners: Map<string, string>; ownPorts: Set<string> } {
  const rows = execFileSync('ss', ['-tanpH'], { encoding: 'utf8' }).split('\n');
  const byFd = new Map<number, Socket>();
  const listeners = new Map<string, string>();
  const ownPorts = new Set<string>();
  for (const row of rows) {
    const [state, , , local, peer, users = ''] = row.trim().split(/\s+/);
    if (!local || !peer) continue;
    if (state === 'LISTEN') {
      const name = /\(\("([^"]+)"/.exec(users)?.[1];
      if (name) listeners.set(portOf(local), name);
      if (users.includes(`pid=${pid},`)) ownPorts.add(portOf(local));
      continue;
    }
    for (const match of users.matchAll(/pid=(\d+),fd=(\d+)/g)) {
      if (Number(match[1]) === pid) byFd.set(Number(match[2]), { localPort: portOf(local), peerPort: portOf(peer) });
    }
  }
  return { byFd, listeners, ownPorts };
}

function peerOf(fd: number, target: string | undefined, socket: Socket | undefined, listeners: Map<string, string>, ownPorts: Set<string>): string {
  if (fd === 1) return 'stdout';
  if (fd === 2) return 'stderr';
  if (target?.includes('eventfd')) return 'eventfd';
  if (!socket) return target ?? 'unknown';
  if (ownPorts.has(socket.localPort)) return 'http clients';
  return `${listeners.get(socket.peerPort) ?? 'unknown'} :${socket.peerPort}`;
}

function main(): void {
  const pid = Number(process.argv[2]);
  const seconds = Number(process.argv[3] ?? 6);
  if (!Number.isInteger(pid) || pid <= 0 || !(seconds > 0)) throw new Error('usage: socketCallsByPeer.ts <pid> [seconds]');
  const trace = `/tmp/socket-calls-${pid}.txt`;
  // strace detaches at the timeout's SIGTERM and leaves the process running.
  spawnSync('timeout', [String(seconds), 'strace', '-f', '-qq', '-e', `trace=${calls.join(',')}`, '-p', String(pid), '-o', trace], { stdio: 'inherit' });

  // Sockets opened during the trace and still open are named; those closed since count as `unknown`.
  const { byFd, listeners, ownPorts } = sockets(pid);
  const targets = new Map<number, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      targets.set(Number(fd), readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // Closed between the listing and the read.
    }
  }

  const byPeer: Record<string, Record<string, number>> = {};
  for (const line of readFileSync(trace, 'utf8').split('\n')) {
    const match = /^\d+\s+(\w+)\((\d+),/.exec(line);
    if (!match) continue;
    const [, call, fdText] = match as unknown as [string, string, string];
    const fd = Number(fdText);
    const peer = peerOf(fd, targets.get(fd), byFd.get(fd), listeners, ownPorts);
    const counts = (byPeer[peer] ??= {});
    counts[call] = (counts[call] ?? 0) + 1;
  }
  rmSync(trace, { force: true });
  const http = byPeer['http clients'] ?? {};
  const acceptedConnectionReads = (http.read ?? 0) + (http.readv ?? 0) + (http.recvfrom ?? 0);
  console.log(JSON.stringify({ pid, seconds, acceptedConnectionReads, byPeer }, null, 2));
}

main();
