import { describe, expect, it } from 'vitest';
import { isTransient } from '../../src/app/consumeEvent.js';
import { PaymentLeaseHeld } from '../../src/domain/payments.js';
import { AppError, dependencyUnavailable } from '../../src/errors.js';

const pgError = (code: string, message = 'error') => Object.assign(new Error(message), { code });

describe('which handler failures wait for a dependency instead of counting against the message', () => {
  it.each([
    ['serialization failure', '40001'],
    ['deadlock', '40P01'],
    ['statement timeout', '57014'],
    ['lock not available', '55P03'],
    ['admin shutdown', '57P01'],
    ['connection failure', '08006'],
    ['too many connections', '53300'],
  ])('when Postgres reports %s (%s), then it is transient', (_name, code) => {
    expect(isTransient(pgError(code))).toBe(true);
  });

  it('when a connection is refused or terminated, then it is transient', () => {
    expect(isTransient(pgError('ECONNREFUSED'))).toBe(true);
    expect(isTransient(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransient(dependencyUnavailable('rabbitmq', new Error('down')))).toBe(true);
  });

  it("when the order's payment is leased to another attempt, or a provider call passed its deadline, then it is transient: the delivery waits and tries again", () => {
    expect(isTransient(new PaymentLeaseHeld('01935e00-0000-7000-8000-00000000a001'))).toBe(true);
    expect(isTransient(new AppError('dependency_unavailable', 'the payment provider did not answer before the deadline'))).toBe(true);
  });

  it('when the error is about the message or the code (constraint, syntax, validation), then it is not transient', () => {
    expect(isTransient(pgError('23505', 'duplicate key'))).toBe(false);
    expect(isTransient(pgError('42601', 'syntax error'))).toBe(false);
    expect(isTransient(new AppError('invalid_request', 'bad'))).toBe(false);
    expect(isTransient(new TypeError('undefined is not a function'))).toBe(false);
    expect(isTransient(undefined)).toBe(false);
  });
});
