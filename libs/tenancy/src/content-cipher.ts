import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from 'node:crypto';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  CallContentSchema,
  EncryptedContentSchema,
  EncryptionAlgorithm,
  type CallContent,
  type EncryptedContent,
  type LlmCall,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { ContentKeyring } from './content-keys.js';

/** Why content could not be sealed or opened: `details.reason` of the UnderstudyError. */
export const ContentCipherFailure = {
  /** Encrypted content reached a service without `UNDERSTUDY_CONTENT_KEYS_FILE`. */
  NoKeyring: 'NO_KEYRING',
  /** The tenant has no active key to encrypt with. */
  NoActiveKey: 'NO_ACTIVE_KEY',
  /** The key id is not in the keys file (not yet distributed, or removed). */
  UnknownKey: 'UNKNOWN_KEY',
  /** The key id belongs to another tenant than the call's. */
  WrongTenant: 'WRONG_TENANT',
  /** Authentication failed: the envelope was altered, or moved from another call. */
  Tampered: 'TAMPERED',
  /** The envelope does not have the shape this algorithm produces. */
  Malformed: 'MALFORMED',
  UnsupportedAlgorithm: 'UNSUPPORTED_ALGORITHM',
} as const;
export type ContentCipherFailure = (typeof ContentCipherFailure)[keyof typeof ContentCipherFailure];

const cipher = 'aes-256-gcm';
const keyBytes = 32;
const nonceBytes = 12;
const tagBytes = 16;
const utf8 = (text: string) => Buffer.from(text, 'utf8');

/**
 * Associated data of the data-key wrap: the tenant and key id, so a wrapped data key opens only
 * under the key and tenant it was wrapped for. NUL cannot occur in a key id.
 */
const wrapAad = (tenantId: string, keyId: string) => utf8(`${tenantId}\u0000${keyId}`);

/** Which call, tenant and key a failure is about: facts for logs, never key material. */
interface Subject {
  readonly callId: string;
  readonly tenantId: string;
  readonly keyId?: string;
}

function failure(
  code: ErrorCode,
  reason: ContentCipherFailure,
  message: string,
  details: Subject,
): UnderstudyError {
  return new UnderstudyError(code, message, { details: { reason, ...details } });
}

/** AES-256-GCM: the ciphertext followed by its 16-byte tag. */
function seal(key: KeyObject | Buffer, nonce: Buffer, plaintext: Uint8Array, aad: Buffer): Buffer {
  const gcm = createCipheriv(cipher, key, nonce, { authTagLength: tagBytes }).setAAD(aad);
  return Buffer.concat([gcm.update(plaintext), gcm.final(), gcm.getAuthTag()]);
}

/** The plaintext, or undefined when authentication fails. */
function open(
  key: KeyObject | Buffer,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Buffer,
): Buffer | undefined {
  // authTagLength pins the tag to 16 bytes: GCM would otherwise accept a truncated one.
  const gcm = createDecipheriv(cipher, key, nonce, { authTagLength: tagBytes }).setAAD(aad);
  gcm.setAuthTag(sealed.subarray(sealed.length - tagBytes));
  try {
    return Buffer.concat([gcm.update(sealed.subarray(0, sealed.length - tagBytes)), gcm.final()]);
  } catch {
    return undefined;
  }
}

/**
 * Envelope-encrypts a call's content for its tenant: a fresh random data key per message seals
 * the serialized CallContent (AES-256-GCM, random 12-byte nonce, the call id as associated data,
 * so the ciphertext cannot be moved to another call), and the tenant's active key wraps the data
 * key. `wrapped_data_key` is laid out as
 *
 *   wrap nonce (12 bytes) ‖ data key sealed with the key-encryption key (32 bytes) ‖ tag (16 bytes)
 *
 * with `<tenant id> NUL <key id>` (UTF-8) as the wrap's associated data.
 */
export function encryptContent(
  content: CallContent,
  callId: string,
  tenantId: string,
  keyring: ContentKeyring,
): EncryptedContent {
  const kek = keyring.activeKey(tenantId);
  if (kek === undefined) {
    throw failure(
      ErrorCode.FailedPrecondition,
      ContentCipherFailure.NoActiveKey,
      `tenant "${tenantId}" has no active key in the content keys file`,
      { callId, tenantId },
    );
  }
  const dataKey = randomBytes(keyBytes);
  try {
    const nonce = randomBytes(nonceBytes);
    const wrapNonce = randomBytes(nonceBytes);
    return create(EncryptedContentSchema, {
      keyId: kek.keyId,
      algorithm: EncryptionAlgorithm.AES_256_GCM,
      wrappedDataKey: Buffer.concat([
        wrapNonce,
        seal(kek.key, wrapNonce, dataKey, wrapAad(tenantId, kek.keyId)),
      ]),
      nonce,
      ciphertext: seal(dataKey, nonce, toBinary(CallContentSchema, content), utf8(callId)),
    });
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Opens content sealed by {@link encryptContent}, or sealed directly with a listed key when
 * `wrapped_data_key` is empty (the contract allows producers to skip the data key). Every failure
 * is a non-retryable UnderstudyError whose `details.reason` is a {@link ContentCipherFailure}.
 */
export function decryptContent(
  encrypted: EncryptedContent,
  callId: string,
  tenantId: string,
  keyring: ContentKeyring,
): CallContent {
  const { keyId } = encrypted;
  const about: Required<Subject> = { callId, tenantId, keyId };
  if (encrypted.algorithm !== EncryptionAlgorithm.AES_256_GCM) {
    throw failure(
      ErrorCode.InvalidArgument,
      ContentCipherFailure.UnsupportedAlgorithm,
      `content of call ${callId} uses encryption algorithm ${String(encrypted.algorithm)}; only AES-256-GCM is supported`,
      about,
    );
  }
  const kek = keyring.key(keyId);
  if (kek === undefined) {
    throw failure(
      ErrorCode.FailedPrecondition,
      ContentCipherFailure.UnknownKey,
      `content of call ${callId} is encrypted with key "${keyId}", which is not in the content keys file`,
      about,
    );
  }
  if (kek.tenant !== tenantId) {
    throw failure(
      ErrorCode.PermissionDenied,
      ContentCipherFailure.WrongTenant,
      `content of call ${callId} is encrypted with key "${keyId}", which is not a key of tenant "${tenantId}"`,
      about,
    );
  }
  const wrapped = encrypted.wrappedDataKey;
  const direct = wrapped.length === 0;
  if (
    encrypted.nonce.length !== nonceBytes ||
    encrypted.ciphertext.length < tagBytes ||
    (!direct && wrapped.length !== nonceBytes + keyBytes + tagBytes)
  ) {
    throw failure(
      ErrorCode.InvalidArgument,
      ContentCipherFailure.Malformed,
      `content of call ${callId} is not an AES-256-GCM envelope (nonce, data key or ciphertext has the wrong length)`,
      about,
    );
  }
  const plaintext = direct
    ? open(kek.key, encrypted.nonce, encrypted.ciphertext, utf8(callId))
    : openWithDataKey(encrypted, kek.key, wrapAad(tenantId, keyId), about);
  if (plaintext === undefined) {
    throw failure(
      ErrorCode.DataLoss,
      ContentCipherFailure.Tampered,
      `content of call ${callId} failed authentication: it was altered or belongs to another call`,
      about,
    );
  }
  try {
    return fromBinary(CallContentSchema, plaintext);
  } catch {
    // Authenticated bytes that do not decode: the producer sealed something else.
    throw failure(
      ErrorCode.InvalidArgument,
      ContentCipherFailure.Malformed,
      `content of call ${callId} decrypted to something that is not a CallContent`,
      about,
    );
  }
}

/** Unwraps the data key, then opens the content with it; undefined when the content fails. */
function openWithDataKey(
  encrypted: EncryptedContent,
  kek: KeyObject,
  wrapContext: Buffer,
  about: Required<Subject>,
): Buffer | undefined {
  const wrapped = encrypted.wrappedDataKey;
  const dataKey = open(
    kek,
    wrapped.subarray(0, nonceBytes),
    wrapped.subarray(nonceBytes),
    wrapContext,
  );
  if (dataKey === undefined) {
    throw failure(
      ErrorCode.DataLoss,
      ContentCipherFailure.Tampered,
      `the data key of call ${about.callId} failed authentication under key "${about.keyId}": it was altered`,
      about,
    );
  }
  try {
    return open(dataKey, encrypted.nonce, encrypted.ciphertext, utf8(about.callId));
  } finally {
    dataKey.fill(0);
  }
}

/**
 * The content of a call, plain or encrypted; undefined when none was captured. Encrypted content
 * needs the keyring: without one, this fails with a non-retryable error naming the setting.
 */
export function contentOf(call: LlmCall, keyring?: ContentKeyring): CallContent | undefined {
  switch (call.content.case) {
    case 'plainContent':
      return call.content.value;
    case 'encryptedContent':
      if (keyring === undefined) {
        throw failure(
          ErrorCode.FailedPrecondition,
          ContentCipherFailure.NoKeyring,
          `content of call ${call.callId} is encrypted and no content keys are configured (UNDERSTUDY_CONTENT_KEYS_FILE)`,
          { callId: call.callId, tenantId: call.tenantId, keyId: call.content.value.keyId },
        );
      }
      return decryptContent(call.content.value, call.callId, call.tenantId, keyring);
    case undefined:
      return undefined;
  }
}
