import { clone, create } from '@bufbuild/protobuf';
import {
  CallContentSchema,
  CallContextSchema,
  ContentEventKind,
  LlmCallSchema,
  RedactionReportSchema,
  StepKind,
  type CallContent,
  type CallContext,
  type ContentEventFragment,
  type EncryptedContent,
  type LlmCall,
  type StepFragment,
} from '@understudy/contracts';
import type { CallPieces } from './joiner.js';

/** Opens and seals content where a tenant's policy encrypts it. */
export interface ContentSeal {
  open(content: EncryptedContent, tenantId: string, callId: string): CallContent;
  /** Undefined when the tenant's content travels in plain form. */
  seal(content: CallContent, tenantId: string, callId: string): EncryptedContent | undefined;
}

/** Steps that name where an agent is in its work; bare links and tools are not. */
const pathKinds = new Set([StepKind.AGENT, StepKind.WORKFLOW, StepKind.TASK]);

/**
 * Adds what the enclosing spans say to what the call span said itself, which wins: the nearest
 * agent, the outermost workflow, the path of named steps, the tool being executed, the
 * conversation and free-form attributes.
 */
function joinContext(context: CallContext, pieces: CallPieces): void {
  const steps = pieces.ancestors
    .map((ancestor) => ancestor.step)
    .filter((step): step is StepFragment => step !== undefined);
  const nearest = (kind: StepKind) => steps.find((step) => step.kind === kind);
  const agent = nearest(StepKind.AGENT);
  const tool = nearest(StepKind.TOOL);
  const outermostFirst = [...steps].reverse();
  const path = outermostFirst.filter((step) => pathKinds.has(step.kind) && step.name !== '');
  context.agentName ||= agent?.name ?? '';
  context.agentId ||= steps.find((step) => step.agentId !== '')?.agentId ?? '';
  context.workflowName ||=
    outermostFirst.find((step) => step.kind === StepKind.WORKFLOW)?.name ?? '';
  if (context.stepPath.length === 0) context.stepPath = path.map((step) => step.name);
  context.stepName ||= context.stepPath.at(-1) ?? '';
  context.enclosingToolName ||= tool?.name ?? '';
  context.enclosingToolCallId ||= tool?.toolCallId ?? '';
  context.conversationId ||= steps.find((step) => step.conversationId !== '')?.conversationId ?? '';
  const attributes: Record<string, string> = {};
  for (const step of outermostFirst) Object.assign(attributes, step.attributes);
  context.attributes = { ...attributes, ...context.attributes };
  context.ancestorSpanIds = pieces.ancestors.map((ancestor) => ancestor.spanId).reverse();
}

function plain(event: ContentEventFragment, call: LlmCall, seal: ContentSeal): CallContent {
  const { content } = event;
  if (content.case === 'plainContent') return content.value;
  if (content.case === 'encryptedContent') {
    return seal.open(content.value, call.tenantId, call.callId);
  }
  return create(CallContentSchema);
}

/**
 * Content from events: system instructions and input messages in the order they were
 * recorded, output messages by choice index. The events' redaction reports add up.
 */
function joinEvents(call: LlmCall, events: readonly ContentEventFragment[], seal: ContentSeal) {
  const ordered = [...events].sort(
    (a, b) =>
      Number((a.time?.seconds ?? 0n) - (b.time?.seconds ?? 0n)) ||
      (a.time?.nanos ?? 0) - (b.time?.nanos ?? 0) ||
      a.sequence - b.sequence,
  );
  const content = create(CallContentSchema);
  const outputs: { index: number; content: CallContent }[] = [];
  const report = create(RedactionReportSchema);
  for (const event of ordered) {
    const part = plain(event, call, seal);
    // A semconv ≥ 1.37 operation-details event may hold the input beside the output.
    content.systemInstructions.push(...part.systemInstructions);
    content.inputMessages.push(...part.inputMessages);
    if (event.kind === ContentEventKind.OUTPUT_MESSAGE) {
      outputs.push({ index: event.choiceIndex, content: part });
    }
    if (event.redaction !== undefined) {
      report.redactorVersion ||= event.redaction.redactorVersion;
      for (const [entity, count] of Object.entries(event.redaction.entityCounts)) {
        report.entityCounts[entity] = (report.entityCounts[entity] ?? 0) + count;
      }
      report.placeholders.push(
        ...event.redaction.placeholders.filter((p) => !report.placeholders.includes(p)),
      );
    }
  }
  outputs.sort((a, b) => a.index - b.index);
  content.outputMessages = outputs.flatMap((output) => output.content.outputMessages);
  const captured = [...content.inputMessages, ...content.outputMessages].some(
    (message) => message.parts.length > 0,
  );
  call.contentCaptured = captured || content.systemInstructions.length > 0;
  if (!call.contentCaptured) {
    call.content = { case: undefined };
    return;
  }
  const sealed = seal.seal(content, call.tenantId, call.callId);
  call.content = sealed
    ? { case: 'encryptedContent', value: sealed }
    : { case: 'plainContent', value: content };
  if (report.redactorVersion !== '') call.redaction = report;
}

/**
 * The call as consumers see it: the call span's own fields, the content from its events when
 * its format sends them apart, and the agent, workflow and steps around it from its ancestors.
 */
export function assembleCall(pieces: CallPieces, seal: ContentSeal): LlmCall {
  const call = clone(LlmCallSchema, pieces.call);
  call.context ??= create(CallContextSchema);
  joinContext(call.context, pieces);
  if (pieces.events.length > 0) joinEvents(call, pieces.events, seal);
  return call;
}
