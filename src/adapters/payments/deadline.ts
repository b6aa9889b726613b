import { AppError } from '../../errors.js';

/**
 * Runs one provider call and gives up on it when `deadline` fires: rejects at once then (and without
 * starting when it has already fired), whether or not the request under it honours the signal. The
 * outcome of a call given up on is unknown, and the error is transient, so the payment is settled
 * later from the provider's record (src/domain/payments.ts), never by a blind second charge.
 */
export async function withinDeadline<T>(deadline: AbortSignal, call: () => Promise<T>): Promise<T> {
  const passed = () => new AppError('dependency_unavailable', 'the payment provider did not answer before the deadline (PAYMENT_PROVIDER_TIMEOUT_MS)');
  if (deadline.aborted) throw passed();
  let onAbort: (() => void) | undefined;
  const abandoned = new Promise<never>((_, reject) => {
    onAbort = () => reject(passed());
    deadline.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([call(), abandoned]);
  } finally {
    deadline.removeEventListener('abort', onAbort!);
  }
}
