import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { LlmCallSchema, type LlmCall } from '@understudy/contracts';
import { encryptContent } from './content-cipher.js';
import { ContentKeyring } from './content-keys.js';

/** For tests: a keyring with one active key for each tenant given, and the file it was parsed from. */
export function testKeyring(...tenants: string[]): { keyring: ContentKeyring; json: string } {
  const json = JSON.stringify(
    tenants.map((tenant) => ({
      tenant,
      keyId: `${tenant}-key`,
      key: randomBytes(32).toString('base64'),
      active: true,
    })),
  );
  return { keyring: ContentKeyring.parse(json, 'test keys'), json };
}

/** For tests: the call with its plain content sealed for its tenant, as the collector sends it. */
export function encrypted(call: LlmCall, keyring: ContentKeyring): LlmCall {
  if (call.content.case !== 'plainContent') throw new Error(`${call.callId} has no plain content`);
  return create(LlmCallSchema, {
    ...call,
    content: {
      case: 'encryptedContent',
      value: encryptContent(call.content.value, call.callId, call.tenantId, keyring),
    },
  });
}
