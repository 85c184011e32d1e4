import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ErrorCode, httpStatusOf, UnderstudyError } from '@understudy/errors';
import { recordFailure, silentLogger, type Logger } from '@understudy/telemetry';
import {
  contentTypes,
  encodeExportResponse,
  encodeStatus,
  encodingOf,
  type Encoding,
  type Signal,
} from '../domain/otlp-codec.js';
import {
  outcomeOf,
  payloadTooLarge,
  retryAfterOf,
  type Admission,
  type OtlpEdge,
  type Outcome,
} from '../edge/otlp-edge.js';

const gunzipAsync = promisify(gunzip);

/** The OTLP/HTTP paths and the signal each takes. */
export const otlpPaths: ReadonlyMap<string, Signal> = new Map([
  ['/v1/traces', 'traces'],
  ['/v1/logs', 'logs'],
]);

interface Answer {
  readonly status: number;
  readonly outcome: Outcome;
}

/**
 * Reads the body under the admission's accounting: a declared length is held (or refused)
 * before anything is read, a streamed one as it arrives, a gzip one once inflated, at most to
 * the tenant's largest export.
 */
async function readBody(
  request: IncomingMessage,
  admission: Admission,
  gzip: boolean,
): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0);
  admission.hold(declared);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    admission.hold(Math.max(size, declared));
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  if (!gzip) return body;
  let inflated: Buffer;
  try {
    inflated = await gunzipAsync(body, { maxOutputLength: admission.maxBodyBytes });
  } catch (error) {
    if (error instanceof RangeError) throw payloadTooLarge(admission.maxBodyBytes);
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'body is not valid gzip', {
      cause: error,
    });
  }
  // The compressed copy is dropped here: what is held from now on is the inflated export.
  admission.hold(inflated.length);
  return inflated;
}

/** The content coding of a body: gzip, identity (also when absent), or one not supported. */
function contentCodingOf(value: string | undefined): 'gzip' | 'identity' | undefined {
  const coding = value?.trim().toLowerCase() ?? 'identity';
  return coding === 'gzip' || coding === 'identity' ? coding : undefined;
}

/**
 * OTLP/HTTP `POST /v1/traces` and `POST /v1/logs`: authenticates the tenant by API key and
 * applies its limits before reading anything, then reads, inflates and decodes the export and
 * answers 200 only once the ingest has made it durable.
 */
export class OtlpHttpHandler {
  private readonly tracer = trace.getTracer('understudy.collector');
  private readonly logger: Logger;

  constructor(
    private readonly edge: OtlpEdge,
    logger: Logger = silentLogger,
  ) {
    this.logger = logger;
  }

  readonly handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const encoding = encodingOf(request.headers['content-type']);
    const answer = encoding ?? 'protobuf';
    const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
    const signal = otlpPaths.get(path);
    let result: Answer;
    if (signal === undefined) {
      const notFound = new UnderstudyError(ErrorCode.NotFound, 'not found');
      result = this.fail(request, response, answer, notFound);
    } else if (request.method !== 'POST') {
      response.setHeader('allow', 'POST');
      const message = 'only POST is allowed';
      result = this.refuse(request, response, answer, 405, ErrorCode.Unimplemented, message);
    } else {
      result = await this.tracer.startActiveSpan(
        `POST ${path}`,
        {
          kind: SpanKind.SERVER,
          attributes: { 'http.request.method': 'POST', 'url.path': path, 'otlp.signal': signal },
        },
        propagation.extract(ROOT_CONTEXT, request.headers),
        async (span) => {
          try {
            const exported = await this.export(signal, request, response, encoding);
            span.setStatus({ code: SpanStatusCode.OK });
            return exported;
          } catch (error) {
            const failure = UnderstudyError.from(error);
            recordFailure(span, failure);
            if (failure.code === ErrorCode.Internal) {
              this.logger.error({ err: error, signal }, 'OTLP export failed');
            }
            return this.fail(request, response, answer, failure);
          } finally {
            span.end();
          }
        },
      );
    }
    this.edge.countExport(signal, result.outcome, { 'http.response.status_code': result.status });
  };

  private async export(
    signal: Signal,
    request: IncomingMessage,
    response: ServerResponse,
    encoding: Encoding | undefined,
  ): Promise<Answer> {
    const tenantId = this.edge.authenticate(request.headers);
    const invalid = ErrorCode.InvalidArgument;
    if (encoding === undefined) {
      const message = `content-type must be ${contentTypes.protobuf} or ${contentTypes.json}`;
      return this.refuse(request, response, 'protobuf', 415, invalid, message);
    }
    const contentEncoding = request.headers['content-encoding'];
    const coding = contentCodingOf(contentEncoding);
    if (coding === undefined) {
      // RFC 9110: 415 for a content coding the server does not take, naming those it does.
      response.setHeader('accept-encoding', 'gzip');
      const message = `unsupported content-encoding ${contentEncoding ?? ''}`;
      return this.refuse(request, response, encoding, 415, invalid, message);
    }
    const admission = this.edge.admit(tenantId);
    let body: Buffer;
    try {
      body = await readBody(request, admission, coding === 'gzip');
    } catch (error) {
      admission.release();
      throw error;
    }
    const result = await this.edge.export(signal, admission, body, encoding);
    this.reply(response, 200, encoding, encodeExportResponse(signal, encoding, result));
    return { status: 200, outcome: outcomeOf(result) };
  }

  private fail(
    request: IncomingMessage,
    response: ServerResponse,
    encoding: Encoding,
    error: UnderstudyError,
  ): Answer {
    const status = httpStatusOf(error.code);
    const retryAfter = retryAfterOf(error);
    if (retryAfter !== undefined) response.setHeader('retry-after', String(retryAfter));
    // The body of a refused request is left unread: closing the connection discards it.
    if (!request.readableEnded) response.setHeader('connection', 'close');
    const message =
      status >= 500 && error.code !== ErrorCode.Unavailable ? 'internal error' : error.message;
    this.reply(response, status, encoding, encodeStatus(encoding, error.code, message, retryAfter));
    return { status, outcome: error.code };
  }

  /** A refusal HTTP states with a status of its own (405, 415) rather than the code's. */
  private refuse(
    request: IncomingMessage,
    response: ServerResponse,
    encoding: Encoding,
    status: number,
    code: ErrorCode,
    message: string,
  ): Answer {
    if (!request.readableEnded) response.setHeader('connection', 'close');
    this.reply(response, status, encoding, encodeStatus(encoding, code, message));
    return { status, outcome: code };
  }

  private reply(
    response: ServerResponse,
    status: number,
    encoding: Encoding,
    body: Uint8Array,
  ): void {
    response.writeHead(status, {
      'content-type': contentTypes[encoding],
      'content-length': body.byteLength,
    });
    response.end(body);
  }
}
