import { BrowserCacheLocation, InteractionRequiredAuthError, PublicClientApplication, type AccountInfo } from '@azure/msal-browser';
import type { StorefrontConfig } from './config';

export interface Session {
  account: AccountInfo;
  /** The person's name as the identity provider gives it. */
  displayName: string;
}

export interface Auth {
  session(): Session | undefined;
  /** An access token for the API's delegated scope; redirects to sign in when none can be had silently. */
  accessToken(): Promise<string>;
  /** App roles in the current access token: only to decide which links to show, the API decides access. */
  roles(): Promise<string[]>;
  /** Leaves for the identity provider's sign-in page; back at `returnTo` (default: this page) afterwards. */
  signIn(returnTo?: string): Promise<never>;
  signOut(): Promise<void>;
}

/** Thrown when getting a token had to leave the page to sign in: the caller should stop quietly. */
export class SigningIn extends Error {
  override name = 'SigningIn';
}

function rolesOf(accessToken: string): string[] {
  try {
    const payload = accessToken.split('.')[1] ?? '';
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { roles?: unknown };
    return Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * Sign-in with MSAL: authorization code with PKCE by full-page redirect. The token cache is in
 * localStorage, so every tab of the site shares one sign-in (MSAL keeps the tabs' caches in step over a
 * BroadcastChannel). MSAL encrypts what it writes there with a key kept in a session cookie, so the
 * cached tokens cannot be read once the browser is closed: a sign-in lasts for the browser session.
 * The trade-off against sessionStorage is in docs/storefront.md ("Token cache").
 */
export async function createAuth(config: StorefrontConfig['auth']): Promise<Auth> {
  const home = `${window.location.origin}/`;
  const msal = new PublicClientApplication({
    auth: {
      clientId: config.clientId,
      authority: config.authority,
      knownAuthorities: config.knownAuthorities ?? [],
      ...(config.authorityMetadata ? { authorityMetadata: config.authorityMetadata } : {}),
      redirectUri: home,
      postLogoutRedirectUri: home,
    },
    cache: { cacheLocation: BrowserCacheLocation.LocalStorage },
  });
  await msal.initialize();
  const redirected = await msal.handleRedirectPromise();
  if (redirected?.account) msal.setActiveAccount(redirected.account);
  else if (!msal.getActiveAccount()) {
    const [first] = msal.getAllAccounts();
    if (first) msal.setActiveAccount(first);
  }
  const request = { scopes: [config.apiScope] };

  const signIn = async (returnTo = window.location.href): Promise<never> => {
    await msal.loginRedirect({ ...request, redirectStartPage: returnTo });
    throw new SigningIn('Redirecting to sign in');
  };

  const accessToken = async () => {
    const account = msal.getActiveAccount();
    if (!account) return signIn();
    try {
      return (await msal.acquireTokenSilent({ ...request, account })).accessToken;
    } catch (error) {
      if (!(error instanceof InteractionRequiredAuthError)) throw error;
      await msal.acquireTokenRedirect({ ...request, account, redirectStartPage: window.location.href });
      throw new SigningIn('Redirecting to sign in');
    }
  };

  return {
    session() {
      const account = msal.getActiveAccount();
      return account ? { account, displayName: account.name || account.username } : undefined;
    },
    accessToken,
    roles: async () => rolesOf(await accessToken()),
    signIn,
    async signOut() {
      const account = msal.getActiveAccount();
      await msal.logoutRedirect(account ? { account } : {});
    },
  };
}
