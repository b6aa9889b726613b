import { z } from 'zod';
import { appRoles, userScope } from '../adapters/auth/index.js';
import { errorCodeDescriptions, type ErrorCode } from '../errors.js';
import { maxBodyBytes, registeredRoutes, type Access, type HeaderSpec, type HttpMethod, type RegisteredRoute } from './api.js';
import { problemContentType } from './problem.js';
import { problemSchema } from './schemas.js';

type JsonSchema = Record<string, unknown>;

/** A route served with `app.http` directly (not `apiRoute`): documented and answered with 405 like the others. */
export interface PlainRoute {
  method: HttpMethod;
  route: string;
  access: 'anonymous';
  summary: string;
  tags: string[];
  /** Response status -> description, media type and schema. */
  responses: Record<number, { description: string; contentType?: string; schema?: JsonSchema }>;
}

const healthSchema: JsonSchema = {
  type: 'object',
  properties: {
    status: { const: 'ok' },
    checks: {
      type: 'object',
      properties: Object.fromEntries(['postgres', 'redis', 'rabbitmq'].map((name) => [name, { enum: ['ok', 'unavailable'] }])),
      required: ['postgres', 'redis', 'rabbitmq'],
      additionalProperties: false,
    },
    consumers: {
      type: 'object',
      description: "Consumers of each RabbitMQ trigger queue, as the broker counts them ('missing' when the queue does not exist)",
      additionalProperties: { oneOf: [{ type: 'integer', minimum: 0 }, { const: 'missing' }] },
    },
  },
  required: ['status', 'checks'],
  additionalProperties: false,
};

/** The anonymous routes outside `apiRoute`: health and the API's own documentation. */
export const plainRoutes: readonly PlainRoute[] = [
  {
    method: 'GET',
    route: 'health',
    access: 'anonymous',
    summary: 'Liveness and readiness: each dependency checked within 2 s, and a consumer on every trigger queue',
    tags: ['operations'],
    responses: {
      200: { description: 'Every dependency answers', schema: healthSchema },
      503: { description: 'A dependency is down (`checks` names it) or a trigger queue has no consumer (`consumers` shows it)', contentType: problemContentType },
    },
  },
  {
    method: 'GET',
    route: 'openapi.json',
    access: 'anonymous',
    summary: 'This OpenAPI 3.1 document',
    tags: ['documentation'],
    responses: { 200: { description: 'The OpenAPI document', schema: { type: 'object' } } },
  },
  {
    method: 'GET',
    route: 'docs',
    access: 'anonymous',
    summary: 'A browsable reference of every operation',
    tags: ['documentation'],
    responses: { 200: { description: 'An HTML page', contentType: 'text/html', schema: { type: 'string' } } },
  },
];

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect); `input` for what clients send. */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** `products/{id:guid}` -> `/products/{id}`, and the parameter names in order. */
export function openApiPath(template: string): { path: string; params: string[] } {
  const params: string[] = [];
  const segments = template
    .split('/')
    .filter(Boolean)
    .map((segment) => {
      const parameter = /^\{\*?(\w+)[^}]*\}$/.exec(segment);
      if (!parameter) return segment;
      params.push(parameter[1]!);
      return `{${parameter[1]}}`;
    });
  return { path: `/${segments.join('/')}`, params };
}

export function accessDescription(access: Access): string {
  if (access === 'anonymous') return 'Anonymous: no token needed.';
  if (access === 'authenticated') return 'Any signed-in caller (a bearer token from Entra ID).';
  if (access === 'catalog') return 'Any signed-in caller; anyone, with no token, when the setting `CATALOG_PUBLIC_READ` is `true` (a token sent must still be valid).';
  if (access === 'user') return `A signed-in user: a delegated token with the scope \`${userScope}\`; app-only tokens are refused (403 \`user_token_required\`).`;
  return `Requires the app role \`${access}\`.`;
}

const problemRef = { $ref: '#/components/schemas/Problem' };
const problemResponse = (description: string) => ({ description, content: { [problemContentType]: { schema: problemRef } } });

/**
 * An error response listing the problem `code`s it can carry: in `x-error-codes` for generators and
 * tools, and in the description for readers.
 */
function problemResponseWithCodes(description: string, codes: readonly ErrorCode[]): Record<string, unknown> {
  const list = codes.map((code) => `\`${code}\`: ${errorCodeDescriptions[code]}`).join('; ');
  return { ...problemResponse(`${description}. Codes: ${list}.`), 'x-error-codes': [...codes] };
}

/** The codes a status means when a route names none of its own. */
const genericCodes: Partial<Record<number, readonly ErrorCode[]>> = {
  400: ['invalid_request'],
  401: ['unauthorized'],
  403: ['forbidden'],
  404: ['not_found'],
  411: ['length_required'],
  413: ['payload_too_large'],
  415: ['unsupported_media_type'],
  422: ['unprocessable'],
  503: ['dependency_unavailable'],
};

function securityOf(access: Access): Array<Record<string, string[]>> {
  if (access === 'anonymous') return [];
  // The empty requirement: the token is optional when the catalog is public (it depends on a setting).
  if (access === 'catalog') return [{ bearerAuth: [] }, {}];
  // OpenAPI 3.1 lets a non-OAuth requirement list the role names it needs.
  return [{ bearerAuth: access === 'authenticated' || access === 'user' ? [] : [access] }];
}

const headerObject = ({ description, schema }: HeaderSpec) => ({ description, schema: jsonSchemaOf(schema, 'output') });

function apiOperation({ name, spec }: RegisteredRoute, params: string[]): Record<string, unknown> {
  const codesOf = (status: number, own?: readonly ErrorCode[]): readonly ErrorCode[] => own ?? genericCodes[status] ?? [];
  const responses: Record<string, unknown> = {};
  for (const [status, { description, schema, headers, codes }] of Object.entries(spec.responses)) {
    const code = Number(status);
    const response: Record<string, unknown> =
      code >= 400
        ? problemResponseWithCodes(description, codesOf(code, codes))
        : schema
          ? { description, content: { 'application/json': { schema: jsonSchemaOf(schema, 'output') } } }
          : { description };
    const responseHeaders: Record<string, unknown> = Object.fromEntries(Object.entries(headers ?? {}).map(([header, spec]) => [header, headerObject(spec)]));
    if (code === 201 || code === 202) responseHeaders.Location = { description: 'The URL of the created or accepted resource', schema: { type: 'string' } };
    if (Object.keys(responseHeaders).length > 0) response.headers = responseHeaders;
    responses[status] = response;
  }
  const signedIn = spec.access !== 'anonymous';
  const shared: Array<[status: number, description: string, applies: boolean, codes?: readonly ErrorCode[]]> = [
    [400, 'The body, query or a header is invalid; `errors` lists what', Boolean(spec.body || spec.query || spec.headers)],
    [401, 'No valid bearer token (`WWW-Authenticate: Bearer error="invalid_token"`)', signedIn],
    spec.access === 'user'
      ? [403, 'The token lacks the scope this API needs, or is an app-only token', true, ['forbidden', 'user_token_required']]
      : [403, spec.access === 'authenticated' || spec.access === 'catalog' ? 'The token lacks the scope or app role this API needs' : `The token lacks the app role ${spec.access}`, signedIn],
    [404, 'Not found', params.length > 0],
    [411, 'The body was sent chunked (no `Content-Length`), which the Functions host drops', Boolean(spec.body || spec.binaryBody)],
    [413, `The body is larger than ${spec.binaryBody?.maxBytes ?? maxBodyBytes} bytes`, Boolean(spec.body || spec.binaryBody)],
    spec.binaryBody
      ? [415, `The body is not one of ${spec.binaryBody.contentTypes.join(', ')}, by its Content-Type and its content`, true]
      : [415, 'The body is not JSON (`Content-Type: application/json`)', Boolean(spec.body)],
    [503, 'A dependency (Postgres, Redis, RabbitMQ) is unavailable; retry after `Retry-After` seconds', true],
  ];
  for (const [status, description, applies, codes] of shared) {
    if (applies && !(status in responses)) responses[status] = problemResponseWithCodes(description, codesOf(status, codes));
  }
  Object.assign(responses[503] as Record<string, unknown>, { headers: { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'string' } } } });

  const parameters: Array<Record<string, unknown>> = params.map((param) => ({ name: param, in: 'path', required: true, schema: { type: 'string' } }));
  for (const [header, { description, schema }] of Object.entries(spec.headers ?? {})) {
    parameters.push({ name: header, in: 'header', required: false, description, schema: jsonSchemaOf(schema, 'input') });
  }
  if (spec.query) {
    const query = jsonSchemaOf(spec.query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [param, schema] of Object.entries(query.properties ?? {})) {
      parameters.push({ name: param, in: 'query', required: query.required?.includes(param) ?? false, schema });
    }
  }

  return {
    operationId: name,
    summary: spec.summary,
    description: accessDescription(spec.access),
    tags: spec.tags,
    'x-access': spec.access,
    security: securityOf(spec.access),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(spec.body
      ? { requestBody: { required: !spec.bodyOptional, content: { 'application/json': { schema: jsonSchemaOf(spec.body, 'input') } } } }
      : {}),
    ...(spec.binaryBody
      ? {
          requestBody: {
            required: true,
            description: spec.binaryBody.description,
            content: Object.fromEntries(spec.binaryBody.contentTypes.map((type) => [type, { schema: { type: 'string', contentMediaType: type } }])),
          },
        }
      : {}),
    responses,
  };
}

function plainOperation(route: PlainRoute): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, { description, contentType = 'application/json', schema }] of Object.entries(route.responses)) {
    responses[status] = contentType === problemContentType ? problemResponse(description) : { description, content: { [contentType]: { schema: schema ?? {} } } };
  }
  return {
    operationId: route.route === 'openapi.json' ? 'openApiDocument' : route.route === 'docs' ? 'apiReference' : route.route,
    summary: route.summary,
    description: accessDescription(route.access),
    tags: route.tags,
    'x-access': route.access,
    security: [],
    responses,
  };
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: Array<{ url: string }>;
  tags: Array<{ name: string }>;
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: Record<string, unknown>;
  security: Array<Record<string, string[]>>;
}

/**
 * The OpenAPI 3.1 document of every route registered with `apiRoute` (schemas come from the same zod
 * schemas that validate requests) plus the plain anonymous routes.
 */
export function openApiDocument(routes: readonly RegisteredRoute[] = registeredRoutes, plain: readonly PlainRoute[] = plainRoutes): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  const add = (template: string, method: string, build: (params: string[]) => Record<string, unknown>) => {
    const { path, params } = openApiPath(template);
    const item = (paths[path] ??= {});
    item[method.toLowerCase()] = build(params);
  };
  for (const route of plain) add(route.route, route.method, () => plainOperation(route));
  for (const route of routes) add(route.spec.route, route.spec.method, (params) => apiOperation(route, params));

  const tags = [...new Set([...plain, ...routes.map((r) => r.spec)].flatMap((r) => r.tags))].map((name) => ({ name }));
  return {
    openapi: '3.1.0',
    info: {
      title: 'Shop API',
      version: '0.1.0',
      description:
        'Products, cart, checkout and orders. Every route but the anonymous ones needs `Authorization: Bearer <Microsoft Entra ID v2 access token>`; ' +
        'every error is `application/problem+json`.',
    },
    servers: [{ url: '/api' }],
    tags,
    paths,
    components: {
      schemas: { Problem: jsonSchemaOf(problemSchema, 'output') },
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            `A Microsoft Entra ID v2 access token for this API (RS256). Delegated (user) tokens carry the scope \`${userScope}\`; ` +
            `app roles (${appRoles.map((role) => `\`${role}\``).join(', ')}) are in \`roles\`. The caller is the token's \`oid\`.`,
        },
      },
    },
    security: [{ bearerAuth: [] }],
  };
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
const pretty = (value: unknown) => `<pre>${escapeHtml(JSON.stringify(value, null, 2))}</pre>`;

/** A self-contained HTML reference of the document: no scripts, no external resources. */
export function renderReference(document: OpenApiDocument): string {
  const operations = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ path, method: method.toUpperCase(), operation })),
  );
  const anchor = (op: { operation: Record<string, unknown> }) => `op-${escapeHtml(String(op.operation.operationId))}`;
  const toc = operations
    .map((op) => `<li><a href="#${anchor(op)}"><code>${op.method} ${escapeHtml(op.path)}</code></a> ${escapeHtml(String(op.operation.summary))}</li>`)
    .join('\n');
  const sections = operations
    .map((op) => {
      const { operation } = op;
      const parts = [
        `<section id="${anchor(op)}" class="operation">`,
        `<h2><span class="method ${op.method.toLowerCase()}">${op.method}</span> <code>${escapeHtml(document.servers[0]!.url + op.path)}</code></h2>`,
        `<p>${escapeHtml(String(operation.summary))}</p>`,
        `<p class="access"><strong>Access:</strong> ${escapeHtml(String(operation.description))}</p>`,
      ];
      const parameters = operation.parameters as Array<{ name: string; in: string; required: boolean; schema: unknown }> | undefined;
      if (parameters?.length) {
        parts.push('<h3>Parameters</h3><table><tr><th>name</th><th>in</th><th>required</th><th>schema</th></tr>');
        for (const p of parameters) parts.push(`<tr><td><code>${escapeHtml(p.name)}</code></td><td>${p.in}</td><td>${p.required}</td><td>${pretty(p.schema)}</td></tr>`);
        parts.push('</table>');
      }
      const body = operation.requestBody as { required: boolean; content: Record<string, { schema: unknown }> } | undefined;
      if (body) {
        for (const [type, { schema }] of Object.entries(body.content)) {
          parts.push(`<h3>Request body (<code>${escapeHtml(type)}</code>${body.required ? '' : ', optional'})</h3>${pretty(schema)}`);
        }
      }
      parts.push('<h3>Responses</h3><dl>');
      for (const [status, response] of Object.entries(operation.responses as Record<string, { description: string; content?: Record<string, { schema: unknown }> }>)) {
        parts.push(`<dt>${escapeHtml(status)}</dt><dd>${escapeHtml(response.description)}`);
        for (const [type, { schema }] of Object.entries(response.content ?? {})) {
          parts.push(`<div><code>${escapeHtml(type)}</code>${schema && typeof schema === 'object' && '$ref' in schema ? ` (${escapeHtml(String(schema.$ref))})` : pretty(schema)}</div>`);
        }
        parts.push('</dd>');
      }
      parts.push('</dl></section>');
      return parts.join('\n');
    })
    .join('\n');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(document.info.title)} reference</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; }
code, pre { font-family: ui-monospace, monospace; font-size: 13px; }
pre { background: #f5f5f5; padding: .5rem; overflow-x: auto; margin: .25rem 0; }
section.operation { border-top: 1px solid #ddd; padding-top: 1rem; margin-top: 1.5rem; }
.method { display: inline-block; min-width: 4.5rem; text-align: center; color: #fff; border-radius: 3px; padding: 0 .4rem; font-size: 14px; }
.get { background: #2f6fb0; } .post { background: #2e8540; } .put { background: #b07a2f; } .delete { background: #b0302f; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: .25rem .5rem; vertical-align: top; text-align: left; }
dt { font-weight: bold; margin-top: .5rem; }
</style>
</head>
<body>
<h1>${escapeHtml(document.info.title)} <small>${escapeHtml(document.info.version)}</small></h1>
<p>${escapeHtml(document.info.description)} The machine-readable document is at <a href="openapi.json"><code>${escapeHtml(document.servers[0]!.url)}/openapi.json</code></a>.</p>
<h2>Authentication</h2>
<p>${escapeHtml(String((document.components.securitySchemes as Record<string, { description: string }>).bearerAuth!.description))}</p>
<h2>Errors</h2>
${pretty((document.components.schemas as Record<string, unknown>).Problem)}
<h2>Operations</h2>
<ul>
${toc}
</ul>
${sections}
</body>
</html>
`;
}
