import { app } from '@azure/functions';
import { AppError } from '../src/errors.js';
import { allowedMethods } from '../src/http/fallback.js';
import { problemResponse } from '../src/http/problem.js';

// Catch-all, so unknown paths and methods get problem+json (404, or 405 with Allow for a known
// path) under func start and the local host alike. The Functions host tries HTTP routes in
// function-name order, not by specificity (azure-functions-host#9876), so this name must sort
// after every other function's; the local host orders by specificity and puts it last anyway.
app.http('zzRouteNotFound', {
  methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'],
  route: '{*path}',
  authLevel: 'anonymous',
  handler: async (request) => {
    const allow = allowedMethods(request.params.path ?? '');
    if (allow.length > 0) {
      return problemResponse(new AppError('method_not_allowed', `${request.method} is not allowed here; use ${allow.join(', ')}`, { headers: { Allow: allow.join(', ') } }));
    }
    return problemResponse(new AppError('not_found', 'No route matches this path'));
  },
});
