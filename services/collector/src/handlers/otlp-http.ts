import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { context, metrics, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { CallCaptured } from '@understudy/contracts';
import { ErrorCode, httpStatusOf, UnderstudyError } from '@understudy/errors';
import { recordFailure, silentLogger, type Logger } from '@understudy/telemetry';
import { captureCalls } from '../domain/capture.js';
import {
  contentTypes,
  decodeTraceRequest,
  encodeStatus,
  encodeTraceResponse,
  encodingOf,
  type Encoding,
} from '../domain/otlp-codec.js';
import { apiKeyOf, type TenantKeys } from '@understudy/tenancy';

const gunzipAsync = promisify(gunzip);

/** Publishes captured calls; resolves only once they are durably in Kafka. */
export type PublishCalls = (events: readonly CallCaptured[]) => Promise<void>;

export interface OtlpHttpOptions {
  readonly tenants: TenantKeys;
  readonly publish: PublishCalls;
  readonly maxBodyBytes: number;
  readonly publishTimeoutMs: number;
  readonly producer: string;
  readonly logger?: Logger;
}

export const tracesPath = '/v1/traces';
/** What a 503 asks exporters to wait before retrying. */
const retryAfterSeconds = 5;

async function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = new UnderstudyError(
    ErrorCode.PayloadTooLarge,
    `export larger than ${maxBytes} bytes`,
  );
  if (Number(request.headers['content-length'] ?? 0) > maxBytes) throw tooLarge;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge;
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  const contentEncoding = (request.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (contentEncoding === 'identity') return body;
  if (contentEncoding !== 'gzip') {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `unsupported content-encoding ${contentEncoding}`,
    );
  }
  try {
    return await gunzipAsync(body, { maxOutputLength: maxBytes });
  } catch (error) {
    if (error instanceof RangeError) throw tooLarge;
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'body is not valid gzip', {
      cause: error,
    });
  }
}

/**
 * OTLP/HTTP `POST /v1/traces`: authenticates the tenant by API key before reading anything,
 * decodes the export, captures its LLM calls and answers 200 only once Kafka has them.
 */
export class OtlpHttpHandler {
  private readonly tracer = trace.getTracer('understudy.collector');
  private readonly meter = metrics.getMeter('understudy.collector');
  private readonly spans = this.meter.createCounter('understudy.collector.spans', {
    description: 'Spans received, by outcome: captured (LLM calls), ignored or rejected',
  });
  private readonly exports = this.meter.createCounter('understudy.collector.exports', {
    description: 'Trace export requests, by HTTP status',
  });
  private readonly logger: Logger;

  constructor(private readonly options: OtlpHttpOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  readonly handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const encoding = encodingOf(request.headers['content-type']);
    const answer = encoding ?? 'protobuf';
    const path = (request.url ?? '/').split('?', 1)[0];
    let status: number;
    if (path !== tracesPath) {
      status = this.fail(
        request,
        response,
        answer,
        new UnderstudyError(ErrorCode.NotFound, 'not found'),
      );
    } else if (request.method !== 'POST') {
      response.setHeader('allow', 'POST');
      const body = encodeStatus(answer, ErrorCode.Unimplemented, 'only POST is allowed');
      status = this.reply(response, 405, answer, body);
    } else {
      status = await this.tracer.startActiveSpan(
        `POST ${tracesPath}`,
        { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST' } },
        async (span) => {
          try {
            return await this.export(request, response, encoding);
          } catch (error) {
            const failure = UnderstudyError.from(error);
            recordFailure(span, failure);
            if (failure.code === ErrorCode.Internal) {
              this.logger.error({ err: error }, 'trace export failed');
            }
            return this.fail(request, response, answer, failure);
          } finally {
            span.end();
          }
        },
      );
    }
    this.exports.add(1, { 'http.response.status_code': status });
  };

  private async export(
    request: IncomingMessage,
    response: ServerResponse,
    encoding: Encoding | undefined,
  ): Promise<number> {
    const key = apiKeyOf(request.headers);
    const tenantId = key === undefined ? undefined : this.options.tenants.tenantOf(key);
    if (tenantId === undefined) {
      throw new UnderstudyError(ErrorCode.Unauthenticated, 'missing or unknown API key');
    }
    if (encoding === undefined) {
      const message = `content-type must be ${contentTypes.protobuf} or ${contentTypes.json}`;
      response.setHeader('connection', 'close');
      const body = encodeStatus('protobuf', ErrorCode.InvalidArgument, message);
      return this.reply(response, 415, 'protobuf', body);
    }
    const body = await readBody(request, this.options.maxBodyBytes);
    const exported = decodeTraceRequest(body, encoding);

    const carrier: Record<string, string> = {};
    propagation.inject(context.active(), carrier);
    const capture = captureCalls(exported, {
      tenantId,
      producer: this.options.producer,
      traceParent: carrier['traceparent'] ?? '',
      newEventId: randomUUID,
    });
    const activeSpan = trace.getActiveSpan();
    activeSpan?.setAttributes({
      'understudy.tenant.id': tenantId,
      'understudy.collector.calls': capture.events.length,
      'understudy.collector.spans.ignored': capture.ignored,
      'understudy.collector.spans.rejected': capture.rejected,
    });

    await this.publish(capture.events);
    this.spans.add(capture.events.length, { outcome: 'captured' });
    this.spans.add(capture.ignored, { outcome: 'ignored' });
    this.spans.add(capture.rejected, { outcome: 'rejected' });
    const rejectedMessage =
      capture.rejected > 0 ? `${capture.rejected} spans without a valid trace or span id` : '';
    activeSpan?.setStatus({ code: SpanStatusCode.OK });
    return this.reply(
      response,
      200,
      encoding,
      encodeTraceResponse(encoding, capture.rejected, rejectedMessage),
    );
  }

  /** Waits for Kafka at most publishTimeoutMs; a later acknowledgement is deduplicated by call id. */
  private async publish(events: readonly CallCaptured[]): Promise<void> {
    if (events.length === 0) return;
    const publishing = this.options.publish(events);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new UnderstudyError(
            ErrorCode.Unavailable,
            `Kafka did not acknowledge within ${this.options.publishTimeoutMs} ms`,
          ),
        );
      }, this.options.publishTimeoutMs);
    });
    try {
      await Promise.race([publishing, deadline]);
    } catch (error) {
      // The exporter retries the whole batch; this attempt may still land, which is harmless.
      publishing.catch(() => undefined);
      throw UnderstudyError.from(error).code === ErrorCode.Unavailable
        ? error
        : new UnderstudyError(ErrorCode.Unavailable, 'publishing captured calls failed', {
            cause: error,
          });
    } finally {
      clearTimeout(timer);
    }
  }

  private fail(
    request: IncomingMessage,
    response: ServerResponse,
    encoding: Encoding,
    error: UnderstudyError,
  ): number {
    const status = httpStatusOf(error.code);
    if (error.code === ErrorCode.Unavailable) {
      response.setHeader('retry-after', String(retryAfterSeconds));
    }
    // The body of a refused request is left unread: closing the connection discards it.
    if (!request.readableEnded) response.setHeader('connection', 'close');
    const message =
      status >= 500 && error.code !== ErrorCode.Unavailable ? 'internal error' : error.message;
    return this.reply(response, status, encoding, encodeStatus(encoding, error.code, message));
  }

  private reply(
    response: ServerResponse,
    status: number,
    encoding: Encoding,
    body: Uint8Array,
  ): number {
    response.writeHead(status, {
      'content-type': contentTypes[encoding],
      'content-length': body.byteLength,
    });
    response.end(body);
    return status;
  }
}
