/** The storefront's settings, read from /config.json at start so one build serves every environment. */
export interface StorefrontConfig {
  /** Base URL of the API: `/api` when the storefront's server forwards it (same origin), else an absolute URL. */
  apiBaseUrl: string;
  auth: {
    /** The storefront's own (SPA) app registration. */
    clientId: string;
    /** `https://login.microsoftonline.com/<tenant>` in Azure; the dev issuer locally. */
    authority: string;
    /** The API's delegated scope, e.g. `api://<api client id>/access_as_user`. */
    apiScope: string;
    /** Authorities outside Microsoft's clouds (the dev issuer), by host. */
    knownAuthorities?: string[];
    /** The issuer's OpenID configuration, when MSAL should not fetch it (the dev issuer's plain-HTTP endpoints). */
    authorityMetadata?: string;
  };
}

function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`config.json: ${name} must be a non-empty string`);
  return value;
}

export async function loadConfig(): Promise<StorefrontConfig> {
  const response = await fetch('/config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json could not be read (HTTP ${response.status})`);
  const raw = (await response.json()) as { apiBaseUrl?: unknown; auth?: Record<string, unknown> };
  const auth = raw.auth ?? {};
  const knownAuthorities = auth.knownAuthorities;
  return {
    apiBaseUrl: requireString(raw.apiBaseUrl, 'apiBaseUrl').replace(/\/+$/, ''),
    auth: {
      clientId: requireString(auth.clientId, 'auth.clientId'),
      authority: requireString(auth.authority, 'auth.authority'),
      apiScope: requireString(auth.apiScope, 'auth.apiScope'),
      knownAuthorities: Array.isArray(knownAuthorities) ? knownAuthorities.map((a, i) => requireString(a, `auth.knownAuthorities[${i}]`)) : undefined,
      authorityMetadata: auth.authorityMetadata === undefined ? undefined : requireString(auth.authorityMetadata, 'auth.authorityMetadata'),
    },
  };
}
