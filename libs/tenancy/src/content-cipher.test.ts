import { createCipheriv, randomBytes } from 'node:crypto';
import { create, equals, toBinary } from '@bufbuild/protobuf';
import {
  CallContentSchema,
  EncryptedContentSchema,
  EncryptionAlgorithm,
  LlmCallSchema,
  Role,
  type EncryptedContent,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import {
  ContentCipherFailure,
  contentOf,
  decryptContent,
  encryptContent,
} from './content-cipher.js';
import { ContentKeyring } from './content-keys.js';

interface KeyInit {
  readonly tenant: string;
  readonly keyId: string;
  readonly key?: string;
  readonly active?: boolean;
}

const keyringOf = (...keys: KeyInit[]) =>
  ContentKeyring.parse(
    JSON.stringify(keys.map((k) => ({ key: randomBytes(32).toString('base64'), ...k }))),
    'keys.json',
  );

const content = create(CallContentSchema, {
  systemInstructions: [{ kind: { case: 'text', value: { text: 'You book flights.' } } }],
  inputMessages: [
    { role: Role.USER, parts: [{ kind: { case: 'text', value: { text: 'Fly me to Oslo' } } }] },
  ],
  outputMessages: [
    {
      role: Role.ASSISTANT,
      parts: [{ kind: { case: 'toolCall', value: { id: 'c1', name: 'book', arguments: '{}' } } }],
    },
  ],
});

const acme = keyringOf({ tenant: 'acme', keyId: 'acme-1', active: true });

/** The coded failure a function throws, as code and reason. */
function failureOf(run: () => unknown): { code: ErrorCode; reason: unknown; message: string } {
  try {
    run();
  } catch (error) {
    if (!(error instanceof UnderstudyError)) throw error;
    expect(error.retryable).toBe(false);
    return { code: error.code, reason: error.details['reason'], message: error.message };
  }
  throw new Error('no failure');
}

/** A copy of the envelope with one byte of one field flipped. */
function flipped(
  envelope: EncryptedContent,
  field: 'wrappedDataKey' | 'nonce' | 'ciphertext',
  at: number,
) {
  const bytes = new Uint8Array(envelope[field]);
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  return create(EncryptedContentSchema, { ...envelope, [field]: bytes });
}

describe('encryptContent / decryptContent', () => {
  it('round-trips content through an envelope that shows none of it', () => {
    const envelope = encryptContent(content, 'call-1', 'acme', acme);
    expect(envelope.keyId).toBe('acme-1');
    expect(envelope.algorithm).toBe(EncryptionAlgorithm.AES_256_GCM);
    expect(envelope.nonce).toHaveLength(12);
    // wrap nonce + sealed 32-byte data key + tag; the content plus its tag.
    expect(envelope.wrappedDataKey).toHaveLength(12 + 32 + 16);
    expect(envelope.ciphertext).toHaveLength(toBinary(CallContentSchema, content).length + 16);
    expect(Buffer.from(envelope.ciphertext).toString('latin1')).not.toContain('Oslo');
    const opened = decryptContent(envelope, 'call-1', 'acme', acme);
    expect(equals(CallContentSchema, opened, content)).toBe(true);
  });

  it('uses a fresh data key and nonce for every message', () => {
    const a = encryptContent(content, 'call-1', 'acme', acme);
    const b = encryptContent(content, 'call-1', 'acme', acme);
    expect(Buffer.from(a.wrappedDataKey).equals(Buffer.from(b.wrappedDataKey))).toBe(false);
    expect(Buffer.from(a.nonce).equals(Buffer.from(b.nonce))).toBe(false);
    expect(Buffer.from(a.ciphertext).equals(Buffer.from(b.ciphertext))).toBe(false);
  });

  it('binds the ciphertext to its call: moved to another call, it fails authentication', () => {
    const envelope = encryptContent(content, 'call-1', 'acme', acme);
    expect(failureOf(() => decryptContent(envelope, 'call-2', 'acme', acme))).toEqual({
      code: ErrorCode.DataLoss,
      reason: ContentCipherFailure.Tampered,
      message:
        'content of call call-2 failed authentication: it was altered or belongs to another call',
    });
  });

  it('detects a change to any byte of the content, its nonce or the wrapped data key', () => {
    const envelope = encryptContent(content, 'call-1', 'acme', acme);
    const last = envelope.ciphertext.length - 1;
    for (const [field, at] of [
      ['ciphertext', 0],
      ['ciphertext', last],
      ['nonce', 5],
    ] as const) {
      expect(
        failureOf(() => decryptContent(flipped(envelope, field, at), 'call-1', 'acme', acme)),
      ).toMatchObject({ code: ErrorCode.DataLoss, reason: ContentCipherFailure.Tampered });
    }
    for (const at of [0, 20, 59]) {
      const tampered = flipped(envelope, 'wrappedDataKey', at);
      expect(failureOf(() => decryptContent(tampered, 'call-1', 'acme', acme))).toEqual({
        code: ErrorCode.DataLoss,
        reason: ContentCipherFailure.Tampered,
        message:
          'the data key of call call-1 failed authentication under key "acme-1": it was altered',
      });
    }
    const truncated = create(EncryptedContentSchema, {
      ...envelope,
      wrappedDataKey: envelope.wrappedDataKey.subarray(0, 40),
    });
    expect(failureOf(() => decryptContent(truncated, 'call-1', 'acme', acme))).toMatchObject({
      code: ErrorCode.InvalidArgument,
      reason: ContentCipherFailure.Malformed,
    });
    const unknownAlgorithm = create(EncryptedContentSchema, {
      ...envelope,
      algorithm: EncryptionAlgorithm.UNSPECIFIED,
    });
    expect(failureOf(() => decryptContent(unknownAlgorithm, 'call-1', 'acme', acme))).toMatchObject(
      {
        code: ErrorCode.InvalidArgument,
        reason: ContentCipherFailure.UnsupportedAlgorithm,
      },
    );
  });

  it('encrypts with the new key after a rotation and still decrypts with the old one', () => {
    const oldKey = randomBytes(32).toString('base64');
    const before = keyringOf({ tenant: 'acme', keyId: 'acme-1', key: oldKey, active: true });
    const sealedBefore = encryptContent(content, 'call-1', 'acme', before);
    const after = keyringOf(
      { tenant: 'acme', keyId: 'acme-1', key: oldKey },
      { tenant: 'acme', keyId: 'acme-2', active: true },
    );
    const sealedAfter = encryptContent(content, 'call-2', 'acme', after);
    expect(sealedAfter.keyId).toBe('acme-2');
    expect(
      equals(CallContentSchema, decryptContent(sealedBefore, 'call-1', 'acme', after), content),
    ).toBe(true);
    expect(
      equals(CallContentSchema, decryptContent(sealedAfter, 'call-2', 'acme', after), content),
    ).toBe(true);
    // Once the old key is dropped from the file, what it sealed is unreadable.
    const retired = keyringOf({ tenant: 'acme', keyId: 'acme-2', active: true });
    expect(failureOf(() => decryptContent(sealedBefore, 'call-1', 'acme', retired))).toEqual({
      code: ErrorCode.FailedPrecondition,
      reason: ContentCipherFailure.UnknownKey,
      message:
        'content of call call-1 is encrypted with key "acme-1", which is not in the content keys file',
    });
  });

  it("refuses to open one tenant's content as another's", () => {
    const keyring = keyringOf(
      { tenant: 'acme', keyId: 'acme-1', active: true },
      { tenant: 'globex', keyId: 'globex-1', active: true },
    );
    const envelope = encryptContent(content, 'call-1', 'acme', keyring);
    expect(failureOf(() => decryptContent(envelope, 'call-1', 'globex', keyring))).toEqual({
      code: ErrorCode.PermissionDenied,
      reason: ContentCipherFailure.WrongTenant,
      message:
        'content of call call-1 is encrypted with key "acme-1", which is not a key of tenant "globex"',
    });
    // Relabelled with globex's key id, the data key does not unwrap: it is bound to acme-1.
    const relabelled = create(EncryptedContentSchema, { ...envelope, keyId: 'globex-1' });
    expect(failureOf(() => decryptContent(relabelled, 'call-1', 'globex', keyring))).toMatchObject({
      code: ErrorCode.DataLoss,
      reason: ContentCipherFailure.Tampered,
    });
  });

  it('needs an active key to encrypt', () => {
    expect(failureOf(() => encryptContent(content, 'call-1', 'globex', acme))).toEqual({
      code: ErrorCode.FailedPrecondition,
      reason: ContentCipherFailure.NoActiveKey,
      message: 'tenant "globex" has no active key in the content keys file',
    });
  });

  it('opens content sealed directly with a listed key when there is no wrapped data key', () => {
    const key = randomBytes(32);
    const keyring = keyringOf({
      tenant: 'acme',
      keyId: 'acme-direct',
      key: key.toString('base64'),
      active: true,
    });
    const seal = (plaintext: Uint8Array) => {
      const nonce = randomBytes(12);
      const gcm = createCipheriv('aes-256-gcm', key, nonce).setAAD(Buffer.from('call-1'));
      const ciphertext = Buffer.concat([gcm.update(plaintext), gcm.final(), gcm.getAuthTag()]);
      return create(EncryptedContentSchema, {
        keyId: 'acme-direct',
        algorithm: EncryptionAlgorithm.AES_256_GCM,
        nonce,
        ciphertext,
      });
    };
    const opened = decryptContent(
      seal(toBinary(CallContentSchema, content)),
      'call-1',
      'acme',
      keyring,
    );
    expect(equals(CallContentSchema, opened, content)).toBe(true);
    // Authentic bytes that are no CallContent: a producer's mistake, reported as such.
    expect(
      failureOf(() => decryptContent(seal(Buffer.from([0xff, 0xff])), 'call-1', 'acme', keyring)),
    ).toMatchObject({ code: ErrorCode.InvalidArgument, reason: ContentCipherFailure.Malformed });
  });
});

describe('contentOf', () => {
  const plain = create(LlmCallSchema, {
    tenantId: 'acme',
    callId: 'call-1',
    contentCaptured: true,
    content: { case: 'plainContent', value: content },
  });
  const encrypted = create(LlmCallSchema, {
    ...plain,
    content: { case: 'encryptedContent', value: encryptContent(content, 'call-1', 'acme', acme) },
  });

  it('gives the content of plain and encrypted calls alike, and nothing for calls without', () => {
    expect(contentOf(plain)).toBe(content);
    const opened = contentOf(encrypted, acme);
    expect(opened).toBeDefined();
    expect(opened).not.toBe(content);
    expect(equals(CallContentSchema, opened!, content)).toBe(true);
    expect(contentOf(create(LlmCallSchema, { callId: 'call-2' }), acme)).toBeUndefined();
  });

  it('names the missing setting when encrypted content meets a service without keys', () => {
    expect(failureOf(() => contentOf(encrypted))).toEqual({
      code: ErrorCode.FailedPrecondition,
      reason: ContentCipherFailure.NoKeyring,
      message:
        'content of call call-1 is encrypted and no content keys are configured (UNDERSTUDY_CONTENT_KEYS_FILE)',
    });
  });
});
