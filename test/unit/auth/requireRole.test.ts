import { describe, expect, it } from 'vitest';
import { requireRole, requireUser, type Principal } from '../../../src/adapters/auth/index.js';
import { AppError } from '../../../src/errors.js';

const alice: Principal = { userId: 'alice', tenantId: 't', kind: 'user', scopes: ['access_as_user'], roles: ['Orders.Read.All'] };

describe('requireRole', () => {
  it('when the principal holds the role, then it returns', () => {
    expect(() => requireRole(alice, 'Orders.Read.All')).not.toThrow();
  });

  it('when the principal lacks the role, then 403 forbidden naming the role', () => {
    let error: unknown;
    try {
      requireRole(alice, 'Products.Write');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    const appError = error as AppError;
    expect({ code: appError.code, status: appError.status, message: appError.message }).toEqual({
      code: 'forbidden',
      status: 403,
      message: 'This operation requires the app role Products.Write',
    });
    expect(appError.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="This operation requires the app role Products.Write"',
    );
  });

  it('when a scope has the name of the role, then it does not count', () => {
    expect(() => requireRole({ ...alice, scopes: ['Products.Write'], roles: [] }, 'Products.Write')).toThrow(AppError);
  });
});

describe('requireUser', () => {
  it('when the principal is a user, then it returns', () => {
    expect(() => requireUser(alice)).not.toThrow();
  });

  it('when the principal is an app, even one with every role, then 403 user_token_required', () => {
    const app: Principal = { userId: 'app', tenantId: 't', kind: 'app', scopes: [], roles: ['Products.Write', 'Orders.Read.All'] };
    expect(() => requireUser(app)).toThrow(expect.objectContaining({ code: 'user_token_required', status: 403 }));
  });
});
