import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { problemResponse } from '../../src/http/problem.js';

describe('problemResponse', () => {
  it('when an error carries an extension member named like a standard one, then the standard member keeps its meaning', () => {
    const error = new AppError('order_not_cancellable', 'An order that is REJECTED cannot be cancelled', { extensions: { status: 'REJECTED', type: 'x', code: 'y', orderStatus: 'REJECTED' } });
    const body = JSON.parse(String(problemResponse(error).body)) as Record<string, unknown>;
    expect(body).toEqual({
      type: 'about:blank',
      title: 'Order not cancellable',
      status: 409,
      detail: 'An order that is REJECTED cannot be cancelled',
      code: 'order_not_cancellable',
      orderStatus: 'REJECTED',
    });
  });
});
