import { CronExpressionParser } from 'cron-parser';
import type { AppRegistry, RegisteredFunction } from './functionsCore.js';
import type { RpcInvocationRequest } from './coreTypes.js';
import type { HostOptions } from './hostConfig.js';
import { invokeFunction } from './invoke.js';
import type { HostLogger } from './logger.js';

export interface TimerFunction {
  fn: RegisteredFunction;
  triggerName: string;
  schedule: string;
  runOnStartup: boolean;
}

export function timerFunctions(registry: AppRegistry): TimerFunction[] {
  return registry.functionsWithTrigger('timerTrigger').map(({ fn, triggerName, binding }) => {
    const schedule = String(binding.schedule ?? '');
    nextOccurrence(schedule, new Date()); // fail at start-up on a bad schedule, as the host does
    return { fn, triggerName, schedule, runOnStartup: binding.runOnStartup === true };
  });
}

/** NCRONTAB (`{second} {minute} {hour} {day} {month} {day-of-week}`) or a `hh:mm:ss` interval. */
export function nextOccurrence(schedule: string, after: Date): Date {
  const interval = /^(\d{1,2}):(\d{2}):(\d{2})$/.exec(schedule);
  if (interval) {
    const ms = ((Number(interval[1]) * 60 + Number(interval[2])) * 60 + Number(interval[3])) * 1000;
    if (ms <= 0) throw new Error(`Timer schedule "${schedule}" must be longer than zero`);
    return new Date(after.getTime() + ms);
  }
  if (schedule.trim().split(/\s+/).length !== 6) {
    throw new Error(`Timer schedule "${schedule}" is not an NCRONTAB expression with six fields (seconds first)`);
  }
  return CronExpressionParser.parse(schedule, { currentDate: after, tz: 'UTC' }).next().toDate();
}

/** The invocation request for one occurrence: the TimerInfo the host serializes (Json.NET, PascalCase). */
export function timerInvocationRequest(triggerName: string, schedule: string, last: Date | null, now = new Date()): Omit<RpcInvocationRequest, 'invocationId'> {
  const input = {
    Schedule: { AdjustForDST: true },
    ScheduleStatus: { Last: (last ?? now).toISOString(), Next: nextOccurrence(schedule, now).toISOString(), LastUpdated: now.toISOString() },
    IsPastDue: false,
  };
  return { inputData: [{ name: triggerName, data: { json: JSON.stringify(input) } }] };
}

/** Fires timer functions on their schedules; an invocation still running when the next is due is not overlapped. */
export class TimerTriggerScheduler {
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #running = new Map<string, Promise<void>>();
  #stopped = false;

  constructor(
    private readonly registry: AppRegistry,
    private readonly functions: TimerFunction[],
    private readonly options: HostOptions,
    private readonly logger: HostLogger,
  ) {}

  start(): void {
    for (const timer of this.functions) {
      if (timer.runOnStartup) this.#fire(timer, null);
      this.#schedule(timer, new Date());
    }
  }

  #schedule(timer: TimerFunction, last: Date | null): void {
    if (this.#stopped) return;
    const next = nextOccurrence(timer.schedule, new Date());
    const handle = setTimeout(() => {
      this.#timers.delete(handle);
      this.#fire(timer, last);
      this.#schedule(timer, next);
    }, Math.max(0, next.getTime() - Date.now()));
    handle.unref();
    this.#timers.add(handle);
  }

  #fire(timer: TimerFunction, last: Date | null): void {
    const name = timer.fn.metadata.name;
    if (this.#running.has(name)) return;
    const work = invokeFunction(this.registry, timer.fn, timerInvocationRequest(timer.triggerName, timer.schedule, last), this.logger)
      .then(() => undefined)
      .catch((error: unknown) => this.logger.error(`Executed '${name}' (Failed): ${(error as Error)?.message ?? String(error)}`))
      .finally(() => this.#running.delete(name));
    this.#running.set(name, work);
  }

  async close(): Promise<void> {
    this.#stopped = true;
    for (const handle of this.#timers) clearTimeout(handle);
    this.#timers.clear();
    await Promise.race([
      Promise.allSettled([...this.#running.values()]),
      new Promise((resolve) => setTimeout(resolve, this.options.shutdownDrainMs).unref()),
    ]);
  }
}
