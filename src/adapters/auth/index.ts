export { createTokenVerifier, maxTokenBytes, type TokenVerifier, type TokenVerifierOptions } from './verifier.js';
export { appRoles, requireRole, requireUser, userScope, type AppRole, type Principal } from './principal.js';
