export {
  DEFAULT_DEV_ISSUER_DIR,
  DEFAULT_HTTP_PORT,
  DEFAULT_HTTPS_PORT,
  DEV_API_CLIENT_ID,
  DEV_CLIENT_ID,
  DEV_CLIENT_OBJECT_ID,
  DEV_CLIENT_ROLES,
  DEV_TENANT_ID,
  devIssuerSettings,
  devIssuerUrls,
  type DevIssuerUrls,
} from './constants.js';
export { startDevIssuer, type DevIssuer, type DevIssuerOptions } from './server.js';
export { loadOrCreateDevIssuerState, readDevIssuerState, type DevIssuerState } from './state.js';
export { createDevTokenMinter, devUserObjectId, uuidV5, type DevTokenMinter, type MintAppTokenOptions, type MintUserTokenOptions } from './tokens.js';
