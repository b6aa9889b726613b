import { AppError } from '../../errors.js';
import { forbidden, insufficientScope } from './challenge.js';

/** The caller of a request, as established from a verified access token. */
export interface Principal {
  /** The token's `oid` (fallback `sub`): the user, or the calling application's service principal. */
  userId: string;
  tenantId: string;
  /** `user` for delegated tokens (they carry `scp`), `app` for app-only tokens. */
  kind: 'user' | 'app';
  scopes: readonly string[];
  roles: readonly string[];
  /** A user's email address, from the token's `email` or `preferred_username` claim, when it holds one. */
  email?: string;
}

/** The app roles this API defines in its Entra app registration. */
export type AppRole = 'Products.Write' | 'Orders.Read.All';

export const appRoles: readonly AppRole[] = ['Products.Write', 'Orders.Read.All'];

/** The delegated scope every user token must carry. */
export const userScope = 'access_as_user';

/** Throws AppError('forbidden') unless the principal holds the app role. */
export function requireRole(principal: Principal, role: AppRole): void {
  if (principal.roles.includes(role)) return;
  throw forbidden(`This operation requires the app role ${role}`);
}

/** Throws AppError('user_token_required') for an app-only token: carts and orders belong to people. */
export function requireUser(principal: Principal): void {
  if (principal.kind === 'user') return;
  throw new AppError('user_token_required', 'This operation acts for a signed-in user; an app-only token has no user to act for', {
    headers: insufficientScope(`This operation needs a delegated token with the scope ${userScope}`),
  });
}
