import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { ByteRange, PutOptions } from './object-store.js';

/** S3's limit on key length. */
export const MAX_KEY_BYTES = 1024;
/** Every driver must be able to store a key: a filesystem name holds 255 bytes, minus our markers. */
export const MAX_SEGMENT_BYTES = 250;
/** S3's limit on user metadata, counted as stored (keys plus percent-encoded values). */
export const MAX_METADATA_BYTES = 2048;
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

// Control characters break file names, HTTP headers and log lines alike.
// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f]/;
const metadataKey = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const contentType = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;

function invalid(message: string, details: Record<string, unknown>): UnderstudyError {
  return new UnderstudyError(ErrorCode.InvalidArgument, message, { details });
}

/**
 * A key is a relative '/'-separated path of well-formed UTF-8: no leading or trailing '/', no
 * empty, '.' or '..' segment, no control character, at most 1024 bytes and 250 per segment.
 * The same rules on both drivers keep a key that works in tests working in production.
 */
export function validateKey(key: string): void {
  if (key.length === 0) throw invalid('Object key is empty', { key });
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw invalid(`Object key is ${bytes} bytes; at most ${MAX_KEY_BYTES} are allowed`, { key });
  }
  // A lone surrogate does not survive encoding to UTF-8.
  if (Buffer.from(key, 'utf8').toString('utf8') !== key) {
    throw invalid('Object key is not valid UTF-8', { key });
  }
  if (controlCharacters.test(key)) {
    throw invalid('Object key contains a control character', { key });
  }
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw invalid(`Object key has an empty, '.' or '..' segment: ${key}`, { key });
    }
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) {
      throw invalid(`Object key has a segment over ${MAX_SEGMENT_BYTES} bytes`, { key });
    }
  }
}

/** A list prefix is empty, a key, or a key followed by '/'. */
export function validatePrefix(prefix: string): void {
  if (prefix === '') return;
  validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

export function validateMetadata(metadata: Readonly<Record<string, string>>): void {
  let bytes = 0;
  for (const [key, value] of Object.entries(metadata)) {
    if (!metadataKey.test(key)) {
      throw invalid(`Metadata key '${key}' must be 1-64 lowercase letters, digits or inner '-'`, {
        metadataKey: key,
      });
    }
    if (Buffer.from(value, 'utf8').toString('utf8') !== value) {
      throw invalid(`Metadata value of '${key}' is not valid UTF-8`, { metadataKey: key });
    }
    bytes += key.length + encodeURIComponent(value).length;
  }
  if (bytes > MAX_METADATA_BYTES) {
    throw invalid(`Metadata takes ${bytes} bytes; at most ${MAX_METADATA_BYTES} are allowed`, {
      bytes,
    });
  }
}

export function validatePutOptions(options: PutOptions): void {
  if (options.contentType !== undefined && !contentType.test(options.contentType)) {
    throw invalid('Content type must be printable ASCII of at most 255 characters', {
      contentType: options.contentType,
    });
  }
  if (options.metadata !== undefined) validateMetadata(options.metadata);
}

export function validateRange(range: ByteRange): void {
  if (!Number.isSafeInteger(range.offset) || range.offset < 0) {
    throw invalid('Range offset must be a non-negative integer', { offset: range.offset });
  }
  if (range.length !== undefined && (!Number.isSafeInteger(range.length) || range.length < 1)) {
    throw invalid('Range length must be a positive integer', { length: range.length });
  }
}
