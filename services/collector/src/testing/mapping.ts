import { create } from '@bufbuild/protobuf';
import { LlmCallSchema, type otlpTrace } from '@understudy/contracts';
import { attributesOf } from '../domain/attributes.js';
import type { MapContext, MappedCall, SourceSpan } from '../domain/mappers/index.js';

/** For the mapper tests: a span as the capture hands it to mappers, from the given scope. */
export function sourceSpanOf(
  span: otlpTrace.Span,
  scopeName: string,
  scopeVersion = '',
): SourceSpan {
  return {
    span,
    attributes: attributesOf(span.attributes),
    resource: {},
    scopeName,
    scopeVersion,
    schemaUrl: '',
  };
}

/** Keeps the blobs the mapper stores, and names each by its position. */
export function blobStore() {
  const blobs: { bytes: Uint8Array; mimeType: string }[] = [];
  const context: MapContext = {
    blob(bytes, mimeType) {
      blobs.push({ bytes, mimeType });
      return { bucket: 'media', key: `blob-${blobs.length}`, sizeBytes: BigInt(bytes.length) };
    },
  };
  return { blobs, context };
}

/** A map context for spans that must not store any media. */
export const noBlobs: MapContext = {
  blob: () => {
    throw new Error('no inline media here');
  },
};

/** The LlmCall a mapped span becomes, as far as the mapper decides it. */
export const built = ({ call, context }: MappedCall) => create(LlmCallSchema, { ...call, context });
