import { createPrivateKey, createPublicKey, generateKeyPair, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { chmod, link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { generate as generateCertificate } from 'selfsigned';

const generateRsaKeyPair = promisify(generateKeyPair);

interface StoredState {
  version: 1;
  createdAt: string;
  signingKeyPem: string;
  tls: { keyPem: string; certPem: string };
  clientSecret: string;
}

/** What the dev issuer keeps on disk so tokens, the certificate and the client secret survive restarts. */
export interface DevIssuerState {
  dir: string;
  signingKey: KeyObject;
  /** Public signing key as published in the JWKS (with `kid`, `use`, `alg`). */
  publicJwk: JWK & { kid: string };
  tls: { keyPem: string; certPem: string };
  /** The certificate to trust for the issuer's HTTPS endpoint (self-signed, CN localhost). */
  caCertPath: string;
  clientSecret: string;
}

const stateFile = (dir: string) => join(dir, 'state.json');

async function createTls(): Promise<StoredState['tls']> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const pems = await generateCertificate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + 825 * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { keyPem: pems.private, certPem: pems.cert };
}

async function createState(): Promise<StoredState> {
  const { privateKey } = await generateRsaKeyPair('rsa', { modulusLength: 2048 });
  return {
    version: 1,
    createdAt: new Date().toISOString(),
    signingKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    tls: await createTls(),
    clientSecret: randomBytes(30).toString('base64url'),
  };
}

// Two processes may start at once (the dev host and `npm run token`): the first link wins, the other reads it.
async function writeOnce(path: string, content: string): Promise<boolean> {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, content, { mode: 0o600 });
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary);
  }
}

async function readStored(dir: string): Promise<StoredState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile(dir), 'utf8')) as StoredState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`The dev issuer state in ${stateFile(dir)} is unreadable; delete the directory to start over`, { cause: error });
  }
}

async function toState(dir: string, stored: StoredState): Promise<DevIssuerState> {
  const signingKey = createPrivateKey(stored.signingKeyPem);
  const jwk = await exportJWK(createPublicKey(signingKey));
  const kid = await calculateJwkThumbprint(jwk);
  const caCertPath = join(dir, 'ca.pem');
  await writeFile(caCertPath, stored.tls.certPem, { mode: 0o644 });
  return {
    dir,
    signingKey,
    publicJwk: { kty: jwk.kty, n: jwk.n, e: jwk.e, kid, use: 'sig', alg: 'RS256' },
    tls: stored.tls,
    caCertPath,
    clientSecret: stored.clientSecret,
  };
}

/** Reads the dev issuer's keys, certificate and client secret from `dir`, creating them on first use. */
export async function loadOrCreateDevIssuerState(dir: string): Promise<DevIssuerState> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let stored = await readStored(dir);
  if (!stored) {
    await writeOnce(stateFile(dir), JSON.stringify(await createState(), null, 2));
    stored = (await readStored(dir))!;
  }
  // The signing key and secret live on; only an expiring certificate is replaced.
  if (new Date(new X509Certificate(stored.tls.certPem).validTo).getTime() < Date.now() + 7 * 24 * 3600_000) {
    stored = { ...stored, tls: await createTls() };
    const temporary = `${stateFile(dir)}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(stored, null, 2), { mode: 0o600 });
    await rename(temporary, stateFile(dir));
  }
  await chmod(stateFile(dir), 0o600);
  return toState(dir, stored);
}

/** Reads existing dev issuer state; fails with a clear message when the issuer never ran in `dir`. */
export async function readDevIssuerState(dir: string): Promise<DevIssuerState> {
  const stored = await readStored(dir);
  if (!stored) throw new Error(`No dev issuer state in ${dir}: start the dev issuer (npm run dev) or run npm run token once`);
  return toState(dir, stored);
}
