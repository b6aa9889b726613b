import { AppError } from '../../errors.js';

const realm = 'api';

// Header values must stay printable ASCII; quotes and backslashes are escaped as RFC 9110 quoted-strings require.
function quoted(value: string): string {
  return `"${value.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, '\\$&')}"`;
}

function challenge(error: 'invalid_token' | 'insufficient_scope', description: string): Record<string, string> {
  return {
    'WWW-Authenticate': `Bearer realm=${quoted(realm)}, error=${quoted(error)}, error_description=${quoted(description)}`,
  };
}

export function insufficientScope(description: string): Record<string, string> {
  return challenge('insufficient_scope', description);
}

/** 401 with an RFC 6750 challenge; the description is ours and never contains the token. */
export function invalidToken(description: string, cause?: unknown): AppError {
  return new AppError('unauthorized', description, { cause, headers: challenge('invalid_token', description) });
}

export function forbidden(description: string): AppError {
  return new AppError('forbidden', description, { headers: insufficientScope(description) });
}
