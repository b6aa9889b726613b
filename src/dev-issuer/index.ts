export {
  DEFAULT_DEV_ISSUER_DIR,
  DEFAULT_HTTP_PORT,
  DEFAULT_HTTPS_PORT,
  DEV_API_CLIENT_ID,
  DEV_CLIENT_ID,
  DEV_CLIENT_OBJECT_ID,
  DEV_API_SCOPE,
  DEV_CLIENT_ROLES,
  DEV_SPA_CLIENT_ID,
  DEV_TENANT_ID,
  DEV_USERS,
  devIssuerSettings,
  devIssuerUrls,
  type DevIssuerUrls,
} from './constants.js';
export { startDevIssuer, type DevIssuer, type DevIssuerOptions } from './server.js';
export { loadOrCreateDevIssuerState, readDevIssuerState, type DevIssuerState } from './state.js';
export { createDevTokenMinter, devUserObjectId, uuidV5, type DevTokenMinter, type MintAppTokenOptions, type MintIdTokenOptions, type MintUserTokenOptions } from './tokens.js';
