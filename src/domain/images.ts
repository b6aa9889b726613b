import { AppError } from '../errors.js';

/** The largest image POST /products/{id}/images accepts. */
export const maxImageBytes = 5 * 1024 * 1024;

export interface ImageType {
  contentType: 'image/png' | 'image/jpeg' | 'image/webp';
  extension: 'png' | 'jpg' | 'webp';
}

export const imageContentTypes: readonly ImageType['contentType'][] = ['image/png', 'image/jpeg', 'image/webp'];

const startsWith = (bytes: Buffer, signature: readonly number[], offset = 0) => bytes.length >= offset + signature.length && signature.every((byte, i) => bytes[offset + i] === byte);

/** The image format the bytes are, by their signature (magic bytes), or undefined. */
export function imageTypeOf(bytes: Buffer): ImageType | undefined {
  // PNG: \x89PNG\r\n\x1a\n, then the IHDR chunk.
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) && bytes.length > 16) return { contentType: 'image/png', extension: 'png' };
  // JPEG: SOI then a marker.
  if (startsWith(bytes, [0xff, 0xd8, 0xff]) && bytes.length > 3) return { contentType: 'image/jpeg', extension: 'jpg' };
  // WebP: a RIFF container of form type WEBP with a VP8/VP8L/VP8X chunk.
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8) && startsWith(bytes, [0x56, 0x50, 0x38], 12)) {
    return { contentType: 'image/webp', extension: 'webp' };
  }
  return undefined;
}

/**
 * The type of an uploaded image: the Content-Type must name one of the accepted formats and the
 * bytes must be that format, so a script or HTML page labelled image/png is never stored (415).
 */
export function sniffImage(declaredContentType: string | null, bytes: Buffer): ImageType {
  const declared = (declaredContentType ?? '').split(';')[0]!.trim().toLowerCase();
  const accept = { headers: { 'Accept-Post': imageContentTypes.join(', ') } };
  if (!(imageContentTypes as readonly string[]).includes(declared)) {
    throw new AppError('unsupported_media_type', `The body must be an image sent as ${imageContentTypes.join(', ')} (Content-Type was ${JSON.stringify(declared.slice(0, 100))})`, accept);
  }
  const actual = imageTypeOf(bytes);
  if (!actual) throw new AppError('unsupported_media_type', `The body is not a PNG, JPEG or WebP image`, accept);
  if (actual.contentType !== declared) throw new AppError('unsupported_media_type', `The body is ${actual.contentType}, not ${declared} as its Content-Type says`, accept);
  return actual;
}
