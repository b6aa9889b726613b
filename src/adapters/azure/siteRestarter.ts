import type { TokenCredential } from '@azure/identity';

/** Restarts the Function App this code runs in (every instance of it). */
export interface SiteRestarter {
  restart(): Promise<void>;
}

/** Microsoft.Web API version of the restart call (the one infra/ deploys the site with). */
export const webApiVersion = '2024-11-01';

/**
 * Restarts a site through Azure Resource Manager, `POST {site}/restart`, signed in as `credential`
 * (the app's managed identity, granted only `Microsoft.Web/sites/restart/action` on this site by
 * infra/modules/function-app.bicep). Without `softRestart` the platform always restarts the app, and
 * without `synchronous` it answers at once while the restart runs: the caller is one of the instances
 * being restarted. https://learn.microsoft.com/rest/api/appservice/web-apps/restart
 */
export function armSiteRestarter(options: {
  /** `/subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.Web/sites/{name}` */
  siteResourceId: string;
  /** `https://management.azure.com` in the public cloud; its `/.default` scope is asked for. */
  resourceManagerEndpoint: string;
  credential: Pick<TokenCredential, 'getToken'>;
  timeoutMs?: number;
}): SiteRestarter {
  const endpoint = options.resourceManagerEndpoint.replace(/\/+$/, '');
  const url = `${endpoint}${options.siteResourceId}/restart?api-version=${webApiVersion}`;
  const scope = `${endpoint}/.default`;
  return {
    async restart() {
      const token = await options.credential.getToken(scope);
      if (!token) throw new Error(`no Entra token for ${scope}`);
      const response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token.token}`, 'content-length': '0' },
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
      if (!response.ok) {
        const detail = (await response.text().catch(() => '')).slice(0, 500);
        throw new Error(`Azure Resource Manager answered ${response.status} to the restart of ${options.siteResourceId}: ${detail}`);
      }
      await response.body?.cancel();
    },
  };
}
