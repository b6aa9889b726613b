import { ManagedIdentityCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { dependencyUnavailable } from '../../errors.js';
import { uuidv7 } from '../../domain/ids.js';
import type { ImageStore } from '../../domain/products.js';

/**
 * `storage` is a connection string (`UseDevelopmentStorage=true` for Azurite) or a blob service URL
 * (`https://<account>.blob.core.windows.net`), which is reached with the app's managed identity.
 */
export function blobServiceOf(storage: string, managedIdentityClientId?: string): { service: BlobServiceClient; withKey: boolean } {
  if (/^https:\/\//i.test(storage)) {
    const credential = managedIdentityClientId ? new ManagedIdentityCredential({ clientId: managedIdentityClientId }) : new ManagedIdentityCredential();
    return { service: new BlobServiceClient(storage, credential), withKey: false };
  }
  return { service: BlobServiceClient.fromConnectionString(storage), withKey: true };
}

async function blobCall<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw dependencyUnavailable('blob storage', error);
  }
}

/**
 * Product images as blobs `products/<productId>/<uuidv7>.<ext>` in one container whose blobs anyone may
 * read (the storefront shows them by URL). A name is never reused, so blobs are cached as immutable.
 * With a connection string (Azurite, development) the container is created, public, on first use; in
 * Azure it is the one Bicep declares (infra/modules/images.bicep), and the app's identity only writes.
 */
export function blobImageStore(options: { storage: string; container: string; managedIdentityClientId?: string }): ImageStore & { ensureContainer(): Promise<void>; container: ContainerClient } {
  const { service, withKey } = blobServiceOf(options.storage, options.managedIdentityClientId);
  const container = service.getContainerClient(options.container);
  let ready: Promise<unknown> | undefined;
  const ensureContainer = async () => {
    if (!withKey) return;
    ready ??= container.createIfNotExists({ access: 'blob' }).catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    await ready;
  };
  const prefix = `${container.url}/`;
  return {
    container,
    ensureContainer: () => blobCall(ensureContainer),
    async save(productId, bytes, contentType, extension) {
      return blobCall(async () => {
        await ensureContainer();
        const blob = container.getBlockBlobClient(`products/${productId}/${uuidv7()}.${extension}`);
        await blob.uploadData(bytes, {
          blobHTTPHeaders: { blobContentType: contentType, blobCacheControl: 'public, max-age=31536000, immutable' },
        });
        return blob.url;
      });
    },
    async delete(url) {
      if (!url.startsWith(prefix)) return;
      const name = decodeURIComponent(url.slice(prefix.length));
      await blobCall(() => container.getBlockBlobClient(name).deleteIfExists());
    },
  };
}
