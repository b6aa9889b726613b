import type { RpcLogCategory, RpcLogLevel } from './coreTypes.js';

const levelRank: Record<RpcLogLevel, number> = { trace: 0, debug: 1, information: 2, warning: 3, error: 4, critical: 5, none: 6 };

/**
 * The host's console output. Function logs (`context.log`) go to stdout as the app wrote them:
 * the app formats its own structured lines. Host messages are prefixed like `func` prints them.
 */
export class HostLogger {
  constructor(private readonly minimumLevel: RpcLogLevel = 'information') {}

  host(message: string): void {
    process.stdout.write(`[host] ${message}\n`);
  }

  error(message: string): void {
    process.stderr.write(`[host] ${message}\n`);
  }

  functionLog(functionName: string, invocationId: string, level: RpcLogLevel, category: RpcLogCategory, message: string): void {
    if (levelRank[level] < levelRank[this.minimumLevel]) return;
    if (category === 'system' && levelRank[level] < levelRank.warning) return;
    const stream = levelRank[level] >= levelRank.error ? process.stderr : process.stdout;
    stream.write(category === 'user' ? `${message}\n` : `[${functionName}] [${level}] ${message} (Id=${invocationId})\n`);
  }
}
