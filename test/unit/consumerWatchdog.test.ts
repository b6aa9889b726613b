import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialWatchdogState, judgeConsumers, type ConsumerObservation, type WatchdogState } from '../../src/domain/consumerWatchdog.js';

const minute = 60_000;
const policy = { unconsumedForMs: 5 * minute, minRestartIntervalMs: 15 * minute };
const consumed: ConsumerObservation = { broker: 'answered', consumers: { orders: 1, payments: 2 } };
const ordersUnconsumed: ConsumerObservation = { broker: 'answered', consumers: { orders: 0, payments: 2 } };
const unreachable: ConsumerObservation = { broker: 'unreachable' };

/** Runs the watchdog over one observation per minute from t=0; returns the minutes at which it restarted. */
function restartsOver(observations: ConsumerObservation[], start: WatchdogState = initialWatchdogState): number[] {
  let state = start;
  const restarts: number[] = [];
  observations.forEach((observation, minuteIndex) => {
    const judged = judgeConsumers(state, observation, minuteIndex * minute, policy);
    state = judged.state;
    if (judged.action.kind === 'restart') restarts.push(minuteIndex);
  });
  return restarts;
}

describe('the consumer watchdog', () => {
  it('when every queue has a consumer, then it never restarts', () => {
    expect(restartsOver(Array(60).fill(consumed))).toEqual([]);
  });

  it('when a queue stays without a consumer while the broker answers, then it restarts once the window has passed, naming the queue', () => {
    let state = initialWatchdogState;
    const actions = [0, 1, 2, 3, 4, 5].map((m) => {
      const judged = judgeConsumers(state, ordersUnconsumed, m * minute, policy);
      state = judged.state;
      return judged.action;
    });
    expect(actions.slice(0, 5).every((action) => action.kind === 'wait')).toBe(true);
    expect(actions[0]).toEqual({ kind: 'wait', queues: ['orders'], restartDueAt: 5 * minute });
    expect(actions[5]).toEqual({ kind: 'restart', queues: ['orders'] });
  });

  it('when a queue is missing, then it counts as without a consumer (the restarted app declares it)', () => {
    expect(restartsOver(Array(6).fill({ broker: 'answered', consumers: { orders: 'missing' } }))).toEqual([5]);
  });

  it('when the consumer comes back within the window, then the window starts again', () => {
    expect(restartsOver([...Array(4).fill(ordersUnconsumed), consumed, ...Array(5).fill(ordersUnconsumed)])).toEqual([]);
  });

  it('when the broker stops answering, then it does not restart (a host started now would come back disabled) and the window starts again', () => {
    expect(restartsOver([...Array(4).fill(ordersUnconsumed), unreachable, ...Array(4).fill(ordersUnconsumed)])).toEqual([]);
    expect(restartsOver(Array(30).fill(unreachable))).toEqual([]);
  });

  it('when consumers stay missing after a restart, then the next restart waits for the minimum interval', () => {
    expect(restartsOver(Array(40).fill(ordersUnconsumed))).toEqual([5, 20, 35]);
  });

  it('when a restart was asked for recently by another instance, then a fresh window still waits for the interval', () => {
    expect(restartsOver(Array(15).fill(ordersUnconsumed), { unconsumedSince: {}, lastRestartAt: 0 })).toEqual([]);
    expect(restartsOver(Array(16).fill(ordersUnconsumed), { unconsumedSince: {}, lastRestartAt: 0 })).toEqual([15]);
  });

  it('when a scheduled look comes a moment before the window has passed, then it restarts within the jitter allowed, not a whole look later', () => {
    const jittery = { ...policy, lookJitterMs: 5_000 };
    const first = judgeConsumers(initialWatchdogState, ordersUnconsumed, 0, jittery);
    expect(judgeConsumers(first.state, ordersUnconsumed, 5 * minute - 20, jittery).action).toEqual({ kind: 'restart', queues: ['orders'] });
    expect(judgeConsumers(first.state, ordersUnconsumed, 5 * minute - 20, policy).action.kind).toBe('wait');
    expect(judgeConsumers(first.state, ordersUnconsumed, 5 * minute - 6_000, jittery).action.kind).toBe('wait');
  });

  it('for any sequence of observations, then restarts are at least the interval apart and each follows a full window without a consumer while the broker answered', () => {
    const observation = fc.oneof(
      fc.constant<ConsumerObservation>(unreachable),
      fc.record({ orders: fc.oneof(fc.constant<'missing'>('missing'), fc.nat(2)), payments: fc.oneof(fc.constant<'missing'>('missing'), fc.nat(2)) }).map((consumers): ConsumerObservation => ({ broker: 'answered', consumers })),
    );
    fc.assert(
      fc.property(fc.array(observation, { maxLength: 120 }), (observations) => {
        const restarts = restartsOver(observations);
        for (let i = 1; i < restarts.length; i++) expect((restarts[i]! - restarts[i - 1]!) * minute).toBeGreaterThanOrEqual(policy.minRestartIntervalMs);
        for (const at of restarts) {
          const windowMinutes = policy.unconsumedForMs / minute;
          expect(at).toBeGreaterThanOrEqual(windowMinutes);
          // Some queue was seen without a consumer, the broker answering, at every look of the window.
          const window = observations.slice(at - windowMinutes, at + 1);
          const queues = ['orders', 'payments'];
          expect(
            queues.some((queue) => window.every((o) => o.broker === 'answered' && (o.consumers[queue] === 0 || o.consumers[queue] === 'missing'))),
          ).toBe(true);
        }
      }),
    );
  });
});
