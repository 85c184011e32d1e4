/**
 * Kafka header names written by the producer and the dead-letter step. Trace context travels in
 * the W3C `traceparent`/`tracestate` headers written by the global OpenTelemetry propagator.
 */
export const Header = {
  ContentType: 'content-type',
  /** Fully qualified protobuf type name of the value, e.g. `understudy.v1.CallCaptured`. */
  Schema: 'understudy-schema',
  EventId: 'understudy-event-id',
  Producer: 'understudy-producer',
  /** Where a dead letter came from and why it was set aside. */
  OriginTopic: 'understudy-dlq-origin-topic',
  OriginPartition: 'understudy-dlq-origin-partition',
  OriginOffset: 'understudy-dlq-origin-offset',
  ErrorCode: 'understudy-dlq-error-code',
  ErrorMessage: 'understudy-dlq-error-message',
  Attempts: 'understudy-dlq-attempts',
  DeadLetteredAt: 'understudy-dlq-timestamp',
} as const;

export const protobufContentType = 'application/x-protobuf';

const decoder = new TextDecoder();

/** Header values as text; Kafka headers are bytes, but every header Understudy writes is UTF-8. */
export function headersAsText(
  headers: Readonly<Record<string, Uint8Array>>,
): Readonly<Record<string, string>> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, decoder.decode(value)]),
  );
}
