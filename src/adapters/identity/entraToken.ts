import { ManagedIdentityCredential, type AccessToken, type TokenCredential } from '@azure/identity';

/** Entra scopes of the data services the app signs in to with its managed identity. */
export const entraScopes = {
  // https://learn.microsoft.com/azure/postgresql/flexible-server/how-to-configure-sign-in-azure-ad-authentication
  postgres: 'https://ossrdbms-aad.database.windows.net/.default',
  // https://learn.microsoft.com/azure/redis/entra-for-authentication
  redis: 'https://redis.azure.com/.default',
} as const;

/**
 * An Entra access token used as a password, fetched again `refreshBeforeMs` before it expires, so a
 * connection opened near the end of a token's life still logs in and a re-authentication has time to
 * run. Callers at the same moment share one fetch; when a refresh fails while the current token is
 * still valid, the current one is used (a fetch is tried again on the next call).
 */
export class RefreshingToken {
  #current: AccessToken | undefined;
  #fetching: Promise<AccessToken> | undefined;

  constructor(
    private readonly credential: Pick<TokenCredential, 'getToken'>,
    private readonly scope: string,
    private readonly options: { refreshBeforeMs?: number; now?: () => number } = {},
  ) {}

  /** A token valid for at least `refreshBeforeMs` more, or the last valid one if a refresh fails. */
  async get(): Promise<string> {
    const now = (this.options.now ?? Date.now)();
    const current = this.#current;
    if (current && current.expiresOnTimestamp - now > (this.options.refreshBeforeMs ?? 5 * 60_000)) return current.token;
    try {
      return (await this.#fetch()).token;
    } catch (error) {
      if (current && current.expiresOnTimestamp > now) return current.token;
      throw error;
    }
  }

  /** When the token in hand should be replaced (ms since the epoch); undefined before the first fetch. */
  refreshAt(): number | undefined {
    return this.#current && this.#current.expiresOnTimestamp - (this.options.refreshBeforeMs ?? 5 * 60_000);
  }

  #fetch(): Promise<AccessToken> {
    this.#fetching ??= this.credential
      .getToken(this.scope)
      .then((token) => {
        if (!token) throw new Error(`no Entra token for ${this.scope}`);
        this.#current = token;
        return token;
      })
      .finally(() => (this.#fetching = undefined));
    return this.#fetching;
  }
}

/** The app's user-assigned managed identity (its client id), or the system-assigned one. */
export function managedIdentity(clientId: string | undefined): TokenCredential {
  return new ManagedIdentityCredential(clientId ? { clientId } : {});
}
