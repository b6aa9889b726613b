import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, type TokenVerifier } from '../../../src/adapters/auth/index.js';
import { AppError } from '../../../src/errors.js';
import { base64url, bearer, createSigningKey, createTestIssuer, rawToken, testUserId, type TestIssuer } from '../../support/tokens.js';

let idp: TestIssuer;
let verifier: TokenVerifier;

beforeAll(async () => {
  idp = await createTestIssuer();
  verifier = createTokenVerifier({ tenantId: idp.tenantId, clientId: idp.clientId, issuer: idp.issuer, jwksUri: idp.jwksUri });
});
afterAll(() => idp.close());

const now = () => Math.floor(Date.now() / 1000);

async function rejection(header: string | null | undefined, v: TokenVerifier = verifier): Promise<AppError> {
  const error = await v.verify(header).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

async function expect401(header: string | null | undefined, message: RegExp | string): Promise<AppError> {
  const error = await rejection(header);
  expect({ code: error.code, status: error.status }).toEqual({ code: 'unauthorized', status: 401 });
  expect(error.message).toMatch(message);
  const challenge = error.headers['WWW-Authenticate'];
  expect(challenge).toMatch(/^Bearer realm="api", error="invalid_token", error_description="[^"\\]*(\\.[^"\\]*)*"$/);
  return error;
}

describe('createTokenVerifier', () => {
  it('when a valid delegated token is presented, then the principal is its oid with its scopes and roles', async () => {
    const token = await idp.sign({ roles: ['Orders.Read.All'] });
    await expect(verifier.verify(bearer(token))).resolves.toEqual({
      userId: testUserId,
      tenantId: idp.tenantId,
      kind: 'user',
      scopes: ['access_as_user'],
      roles: ['Orders.Read.All'],
      email: 'test.user@example.test',
    });
  });

  it('when a token carries an email claim, then it is the email; a preferred_username that is no address gives none', async () => {
    await expect(verifier.verify(bearer(await idp.sign({ email: 'ada@example.test' })))).resolves.toMatchObject({ email: 'ada@example.test' });
    const principal = await verifier.verify(bearer(await idp.sign({ preferred_username: '+44 20 7946 0000' })));
    expect(principal.email).toBeUndefined();
  });

  it('when the scheme is written in another case, then the token is still accepted', async () => {
    const token = await idp.sign();
    await expect(verifier.verify(`bEaReR ${token}`)).resolves.toMatchObject({ userId: testUserId });
  });

  it('when the token has no oid, then the user is its sub', async () => {
    const token = await idp.sign({ oid: undefined, sub: 'subject-1' });
    await expect(verifier.verify(bearer(token))).resolves.toMatchObject({ userId: 'subject-1' });
  });

  it('when an app-only token carries one of the API roles, then the principal is the app', async () => {
    const token = await idp.signApp({ roles: ['Orders.Read.All', 'Something.Else'] });
    await expect(verifier.verify(bearer(token))).resolves.toEqual({
      userId: '6c5d4e3f-2a1b-4c0d-9e8f-7a6b5c4d3e2f',
      tenantId: idp.tenantId,
      kind: 'app',
      scopes: [],
      roles: ['Orders.Read.All', 'Something.Else'],
    });
  });

  it('when a token with scp is marked idtyp app, then it is an app token and needs an app role', async () => {
    await expect(verifier.verify(bearer(await idp.sign({ idtyp: 'app', roles: ['Orders.Read.All'] })))).resolves.toMatchObject({ kind: 'app' });
    await expect(rejection(bearer(await idp.sign({ idtyp: 'app' })))).resolves.toMatchObject({ code: 'forbidden' });
    await expect(verifier.verify(bearer(await idp.sign({ idtyp: 'user' })))).resolves.toMatchObject({ kind: 'user' });
  });

  it('when the audience is api://<client id>, then the token is accepted', async () => {
    const token = await idp.sign({ aud: `api://${idp.clientId}` });
    await expect(verifier.verify(bearer(token))).resolves.toMatchObject({ userId: testUserId });
  });

  it('when the Authorization header is missing, then 401 with an invalid_token challenge', async () => {
    await expect401(undefined, 'The request has no bearer token in its Authorization header');
    await expect401(null, /no bearer token/);
    await expect401('', /no bearer token/);
  });

  it('when the scheme is not Bearer, then 401', async () => {
    const token = await idp.sign();
    await expect401(`Basic ${token}`, 'The Authorization header must use the Bearer scheme');
    await expect401(`Bearer${token}`, 'The Authorization header must use the Bearer scheme');
  });

  it('when the bearer value is not a JWT, then 401', async () => {
    await expect401('Bearer ', 'The bearer token is not a JWT');
    await expect401('Bearer not-a-jwt', 'The bearer token is not a JWT');
    await expect401('Bearer a.b', 'The bearer token is not a JWT');
    await expect401('Bearer a.b.c.d', 'The bearer token is not a JWT');
    await expect401('Bearer !!!.@@@.###', 'The bearer token is not a JWT');
    await expect401(`Bearer ${base64url('{"alg":')}.${base64url('{}')}.x`, 'The bearer token is not a JWT');
    await expect401(`Bearer ${base64url('{"alg":"RS256"}')}.${base64url('[1,2]')}.x`, 'The bearer token is not a JWT');
  });

  it('when the token is over 8 KB, then 401 before parsing', async () => {
    const token = await idp.sign({ padding: 'x'.repeat(10 * 1024) });
    await expect401(bearer(token), 'The token is larger than 8 KB');
    await expect401(`Bearer ${'a'.repeat(5_000_000)}`, 'The token is larger than 8 KB');
    await expect401('x'.repeat(5_000_000), 'The token is larger than 8 KB');
  });

  it('when the token is unsigned (alg none), then 401', async () => {
    const valid = await idp.sign();
    const payload = JSON.parse(Buffer.from(valid.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    await expect401(bearer(rawToken({ alg: 'none', typ: 'JWT' }, payload)), 'The token must be signed with RS256');
    await expect401(bearer(rawToken({ alg: 'None', typ: 'JWT' }, payload)), 'The token must be signed with RS256');
  });

  it('when the token is HS256-signed with the public key as secret, then 401', async () => {
    const valid = await idp.sign();
    const payload = JSON.parse(Buffer.from(valid.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    for (const secret of [idp.key.publicKeyPem, JSON.stringify(idp.key.publicJwk)]) {
      const signingInput = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: idp.key.kid }))}.${base64url(JSON.stringify(payload))}`;
      const signature = createHmac('sha256', secret).update(signingInput).digest('base64url');
      await expect401(bearer(`${signingInput}.${signature}`), 'The token must be signed with RS256');
    }
  });

  it('when the token is signed by another key under a published kid, then 401', async () => {
    const other = await createSigningKey();
    const token = await idp.sign({}, { kid: idp.key.kid }, { key: other });
    await expect401(bearer(token), 'The token signature is invalid');
  });

  it('when the signature is tampered with, then 401', async () => {
    const token = await idp.sign();
    const [h, p] = token.split('.');
    const forged = await idp.sign({ oid: 'someone-else' });
    await expect401(bearer(`${h}.${forged.split('.')[1]}.${token.split('.')[2]}`), 'The token signature is invalid');
    await expect401(bearer(`${h}.${p}.`), 'The token signature is invalid');
  });

  it('when the kid is unknown to the issuer, then 401', async () => {
    const other = await createSigningKey();
    await expect401(bearer(await idp.sign({}, {}, { key: other })), "The token's signing key is not one of the issuer's keys");
  });

  it('when the token expired beyond the allowed skew, then 401 saying so', async () => {
    const token = await idp.sign({ iat: now() - 7200, nbf: now() - 7200, exp: now() - 61 });
    await expect401(bearer(token), 'The token has expired');
  });

  it('when the token expired within the 60 s skew, then it is accepted', async () => {
    const token = await idp.sign({ exp: now() - 30 });
    await expect(verifier.verify(bearer(token))).resolves.toMatchObject({ userId: testUserId });
  });

  it('when nbf is in the future beyond the skew, then 401', async () => {
    const token = await idp.sign({ nbf: now() + 120 });
    await expect401(bearer(token), 'The token is not valid yet (nbf is in the future)');
  });

  it('when nbf is in the future within the skew, then the token is accepted', async () => {
    const token = await idp.sign({ nbf: now() + 30 });
    await expect(verifier.verify(bearer(token))).resolves.toMatchObject({ userId: testUserId });
  });

  it('when the token has no exp, then 401', async () => {
    await expect401(bearer(await idp.sign({ exp: undefined })), 'The token has no expiry (exp)');
  });

  it('when the skew option is above 60 s, then the verifier refuses to be created', () => {
    expect(() => createTokenVerifier({ tenantId: idp.tenantId, clientId: idp.clientId, issuer: idp.issuer, clockToleranceSeconds: 61 })).toThrow(RangeError);
  });

  it('when a smaller skew is configured, then it is applied', async () => {
    const strict = createTokenVerifier({ tenantId: idp.tenantId, clientId: idp.clientId, issuer: idp.issuer, jwksUri: idp.jwksUri, clockToleranceSeconds: 0 });
    const error = await rejection(bearer(await idp.sign({ exp: now() - 5 })), strict);
    expect({ code: error.code, message: error.message }).toEqual({ code: 'unauthorized', message: 'The token has expired' });
  });

  it('when the issuer differs, then 401', async () => {
    await expect401(bearer(await idp.sign({ iss: 'https://login.microsoftonline.com/other/v2.0' })), 'The token was not issued by the expected issuer');
    await expect401(bearer(await idp.sign({ iss: `${idp.issuer}/` })), 'The token was not issued by the expected issuer');
  });

  it('when the audience is another API, then 401 naming the scope to request', async () => {
    const error = await expect401(bearer(await idp.sign({ aud: 'api://another-api' })), /^The token's audience is not this API/);
    expect(error.message).toContain(`api://${idp.clientId}/access_as_user`);
  });

  it('when the token is for Microsoft Graph, then 401 saying the client asked for a Graph token', async () => {
    for (const aud of ['00000003-0000-0000-c000-000000000000', 'https://graph.microsoft.com']) {
      const token = await idp.sign({ aud, scp: 'User.Read openid profile' }, { nonce: 'graph-nonce' });
      const error = await expect401(bearer(token), /Microsoft Graph/);
      expect(error.message).toBe(
        `The token is for Microsoft Graph, not this API: the client must request scope api://${idp.clientId}/access_as_user (users) or api://${idp.clientId}/.default (apps)`,
      );
    }
  });

  it('when the token is a v1.0 token, then 401 saying only v2.0 is accepted', async () => {
    const token = await idp.sign({ ver: '1.0', iss: `https://sts.windows.net/${idp.tenantId}/`, aud: `api://${idp.clientId}` });
    await expect401(bearer(token), /v1\.0 token; this API accepts v2\.0 tokens only/);
  });

  it('when the token has no ver claim, then 401', async () => {
    await expect401(bearer(await idp.sign({ ver: undefined })), 'The token is not an Entra v2.0 access token (ver must be "2.0")');
  });

  it('when the tenant differs, then 401', async () => {
    await expect401(bearer(await idp.sign({ tid: '11111111-2222-4333-8444-555555555555' })), 'The token was issued for another tenant');
    await expect401(bearer(await idp.sign({ tid: undefined })), 'The token was issued for another tenant');
  });

  it('when the token has neither oid nor sub, then 401', async () => {
    await expect401(bearer(await idp.sign({ oid: undefined, sub: undefined })), /no oid or sub/);
  });

  it('when a delegated token lacks access_as_user, then 403 with an insufficient_scope challenge', async () => {
    const error = await rejection(bearer(await idp.sign({ scp: 'Other.Scope', roles: ['Products.Write'] })));
    expect({ code: error.code, status: error.status, message: error.message }).toEqual({
      code: 'forbidden',
      status: 403,
      message: 'The token lacks the delegated scope access_as_user',
    });
    expect(error.headers['WWW-Authenticate']).toContain('error="insufficient_scope"');
  });

  it('when an app-only token has no role of this API, then 403', async () => {
    for (const roles of [undefined, [], ['Other.Role']]) {
      const error = await rejection(bearer(await idp.signApp({ roles })));
      expect({ code: error.code, status: error.status }).toEqual({ code: 'forbidden', status: 403 });
      expect(error.message).toBe("An app-only token must carry one of this API's app roles: Products.Write, Orders.Read.All");
    }
  });

  it('when a 401 is raised, then neither the message nor the challenge echoes the token', async () => {
    const token = await idp.sign({ exp: now() - 3600 });
    const error = await expect401(bearer(token), 'The token has expired');
    expect(JSON.stringify([error.message, error.headers])).not.toContain(token.split('.')[1]);
  });
});
