/** The dev tenant. Fixed, so tokens and settings stay valid across restarts and machines. */
export const DEV_TENANT_ID = '7d3f0c1e-5a52-4c6e-9d1b-2f8a6e4b0c11';
/** The API's application (client) id in the dev tenant: ENTRA_CLIENT_ID when developing locally. */
export const DEV_API_CLIENT_ID = 'b2c5e9a4-3f1d-4e8b-a6c7-1d0e9f8a7b62';
/** The dev client registration (a confidential client) allowed the client-credentials grant. */
export const DEV_CLIENT_ID = 'c8e1f2a3-6b4d-4f5e-8a9b-0c1d2e3f4a53';
/** Object id of the dev client's service principal: the `oid`/`sub` of its app-only tokens. */
export const DEV_CLIENT_OBJECT_ID = 'e4a7b1c2-9d8e-4f3a-b5c6-7d8e9f0a1b24';
/** App roles granted to the dev client, as an admin would assign them in Entra. */
export const DEV_CLIENT_ROLES: readonly string[] = ['Products.Write', 'Orders.Read.All'];
/** The storefront's registration in the dev tenant: a public SPA client (authorization code + PKCE). */
export const DEV_SPA_CLIENT_ID = 'a6f0d3b2-8c1e-4d7a-9b5f-3e2c1a0d9f84';
/** The delegated scope the storefront asks for, as Entra names it: the API's App ID URI and scope. */
export const DEV_API_SCOPE = `api://${DEV_API_CLIENT_ID}/access_as_user`;

/** The users the dev sign-in page offers, with the API app roles an admin assigned them. */
export const DEV_USERS: readonly { name: string; roles: readonly string[] }[] = [
  { name: 'alice', roles: [] },
  { name: 'bob', roles: [] },
  { name: 'admin', roles: ['Products.Write'] },
];

export const DEFAULT_HTTPS_PORT = 7443;
export const DEFAULT_HTTP_PORT = 7444;
/** Where the dev tooling keeps the issuer's keys, certificate and client secret (git-ignored). */
export const DEFAULT_DEV_ISSUER_DIR = '.local/dev-issuer';

export interface DevIssuerUrls {
  /** `iss` of every token: `https://localhost:<httpsPort>/<tenant>/v2.0`. */
  issuer: string;
  /** MSAL authority: `https://localhost:<httpsPort>/<tenant>`. */
  authority: string;
  tokenEndpoint: string;
  /** Plain-HTTP JWKS on the loopback port, so the API needs no TLS trust. */
  jwksUri: string;
  /** Discovery on the plain-HTTP port: its endpoints are on that port too, for browsers (see docs/storefront.md). */
  httpDiscoveryUri: string;
}

/**
 * The issuer's URLs for given ports. The host name is `localhost` (not 127.0.0.1): MSAL accepts an
 * issuer only when its host matches the authority's, and the certificate names both.
 */
export function devIssuerUrls(ports: { httpsPort?: number; httpPort?: number } = {}): DevIssuerUrls {
  const httpsBase = `https://localhost:${ports.httpsPort ?? DEFAULT_HTTPS_PORT}/${DEV_TENANT_ID}`;
  const httpBase = `http://127.0.0.1:${ports.httpPort ?? DEFAULT_HTTP_PORT}/${DEV_TENANT_ID}`;
  return {
    issuer: `${httpsBase}/v2.0`,
    authority: httpsBase,
    tokenEndpoint: `${httpsBase}/oauth2/v2.0/token`,
    jwksUri: `${httpBase}/discovery/v2.0/keys`,
    httpDiscoveryUri: `${httpBase}/v2.0/.well-known/openid-configuration`,
  };
}

/** The ENTRA_* settings that point the API at a dev issuer (default ports unless given). */
export function devIssuerSettings(target: { httpsPort?: number; httpPort?: number } | { issuer: string; jwksUri: string } = {}): {
  ENTRA_TENANT_ID: string;
  ENTRA_CLIENT_ID: string;
  ENTRA_ISSUER: string;
  ENTRA_JWKS_URI: string;
} {
  const urls = 'issuer' in target ? target : devIssuerUrls(target);
  return {
    ENTRA_TENANT_ID: DEV_TENANT_ID,
    ENTRA_CLIENT_ID: DEV_API_CLIENT_ID,
    ENTRA_ISSUER: urls.issuer,
    ENTRA_JWKS_URI: urls.jwksUri,
  };
}
