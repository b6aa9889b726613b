import { describe, expect, it } from 'vitest';
import { withinDeadline } from '../../src/adapters/payments/deadline.js';
import { isTransient } from '../../src/app/consumeEvent.js';

describe('the payment provider call deadline', () => {
  it('when a call ignores the signal and outlives the deadline, then it is given up on at the deadline with a transient error', async () => {
    const started = Date.now();
    const error = await withinDeadline(AbortSignal.timeout(100), () => new Promise((resolve) => setTimeout(resolve, 2_000))).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(isTransient(error)).toBe(true);
    expect((error as Error).message).toMatch(/did not answer before the deadline/);
  });

  it('when the deadline has already passed, then the call is never started', async () => {
    const deadline = AbortSignal.abort();
    let started = false;
    await expect(withinDeadline(deadline, async () => (started = true))).rejects.toSatisfy(isTransient);
    expect(started).toBe(false);
  });

  it('when the call answers in time, then its answer is returned', async () => {
    await expect(withinDeadline(AbortSignal.timeout(1_000), async () => 'approved')).resolves.toBe('approved');
  });
});
