import { create } from '@bufbuild/protobuf';
import {
  RedactionReportSchema,
  type CallContent,
  type ContentEventFragment,
  type EncryptedContent,
  type LlmCall,
  type StepFragment,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { decryptContent, encryptContent, type ContentKeyring } from '@understudy/tenancy';
import type { ContentSeal } from './assemble.js';
import type { ContentGuard } from './fragments.js';
import { redactCall, redactContent, redactStep, type Redactor } from './redaction/index.js';

export interface GuardOptions {
  readonly redactor: Redactor;
  /** Tenants with an active key get their content encrypted; absent: nothing is encrypted. */
  readonly keyring?: ContentKeyring;
}

/**
 * The collector's S2 edge: every piece is redacted before it leaves the process, and content is
 * sealed with the tenant's key where the keys file gives the tenant one.
 */
export function contentGuard({ redactor, keyring }: GuardOptions): ContentGuard & ContentSeal {
  const seal = (content: CallContent, tenantId: string, callId: string) =>
    keyring?.activeKey(tenantId) === undefined
      ? undefined
      : encryptContent(content, callId, tenantId, keyring);
  return {
    call(call: LlmCall) {
      const session = redactor.session(call.tenantId);
      redactCall(call, session);
      if (call.content.case !== 'plainContent') return;
      const sealed = seal(call.content.value, call.tenantId, call.callId);
      if (sealed !== undefined) call.content = { case: 'encryptedContent', value: sealed };
    },
    step(step: StepFragment, tenantId: string) {
      redactStep(step, redactor.session(tenantId));
    },
    event(event: ContentEventFragment, tenantId: string, callId: string) {
      if (event.content.case !== 'plainContent') return;
      const session = redactor.session(tenantId);
      redactContent(event.content.value, session);
      event.redaction = create(RedactionReportSchema, session.report());
      const sealed = seal(event.content.value, tenantId, callId);
      if (sealed !== undefined) event.content = { case: 'encryptedContent', value: sealed };
    },
    open(content: EncryptedContent, tenantId: string, callId: string) {
      if (keyring === undefined) {
        throw new UnderstudyError(
          ErrorCode.FailedPrecondition,
          'encrypted content, but no content keys file is configured',
        );
      }
      return decryptContent(content, callId, tenantId, keyring);
    },
    seal,
  };
}
