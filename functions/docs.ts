import { app } from '@azure/functions';
import { openApiDocument, renderReference, type OpenApiDocument } from '../src/http/openapi.js';

// Built on first request: by then every function group has registered its routes.
let document: OpenApiDocument | undefined;
let page: string | undefined;
const documentOnce = () => (document ??= openApiDocument());

app.http('openApiDocument', {
  methods: ['GET'],
  route: 'openapi.json',
  authLevel: 'anonymous',
  handler: async () => ({ status: 200, headers: { 'cache-control': 'public, max-age=300' }, jsonBody: documentOnce() }),
});

app.http('apiReference', {
  methods: ['GET'],
  route: 'docs',
  authLevel: 'anonymous',
  handler: async () => {
    page ??= renderReference(documentOnce());
    return {
      status: 200,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'public, max-age=300',
        // The page is self-contained: no scripts at all, only its own inline styles.
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        'x-content-type-options': 'nosniff',
      },
      body: page,
    };
  },
});
