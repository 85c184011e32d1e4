import { ErrorCode, UnderstudyError } from '@understudy/errors';

/** An OpenAI-compatible server: the LLM provider, or an SLM endpoint from a route. */
export interface UpstreamTarget {
  /** Up to and including the version, e.g. `http://slm:8000/v1`. */
  readonly baseUrl: string;
  readonly apiKey?: string;
  /** Until the response headers for streams, until the whole body otherwise. */
  readonly timeoutMs: number;
}

export interface UpstreamRequest {
  readonly method: 'GET' | 'POST';
  /** Below the base URL, e.g. `/chat/completions`. */
  readonly path: string;
  readonly body?: unknown;
  /** Hand back a successful body as a byte stream instead of reading it. */
  readonly stream?: boolean;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

interface Answered {
  readonly status: number;
  readonly contentType: string;
}

export type UpstreamResponse =
  | (Answered & { readonly streamed: false; readonly text: string })
  | (Answered & { readonly streamed: true; readonly body: AsyncIterable<Uint8Array> });

/** Talks to OpenAI-compatible servers. */
export interface Upstream {
  /**
   * Any HTTP status is an answer; a refused connection fails with UNAVAILABLE and a timeout
   * with DEADLINE_EXCEEDED.
   */
  send(target: UpstreamTarget, request: UpstreamRequest): Promise<UpstreamResponse>;
}

export class FetchUpstream implements Upstream {
  async send(target: UpstreamTarget, request: UpstreamRequest): Promise<UpstreamResponse> {
    const url = `${target.baseUrl.replace(/\/+$/, '')}${request.path}`;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort();
    }, target.timeoutMs);
    const signal = request.signal
      ? AbortSignal.any([request.signal, controller.signal])
      : controller.signal;
    try {
      const response = await fetch(url, {
        method: request.method,
        headers: {
          ...request.headers,
          ...(request.body !== undefined && { 'content-type': 'application/json' }),
          ...(target.apiKey !== undefined && { authorization: `Bearer ${target.apiKey}` }),
        },
        ...(request.body !== undefined && { body: JSON.stringify(request.body) }),
        signal,
      });
      const answered = {
        status: response.status,
        contentType: response.headers.get('content-type') ?? 'application/json',
      };
      if (request.stream === true && response.ok && response.body !== null) {
        // A stream may run for as long as the model writes: the timeout covered the wait for it.
        clearTimeout(timer);
        return { ...answered, streamed: true, body: response.body };
      }
      return { ...answered, streamed: false, text: await response.text() };
    } catch (error) {
      // Only the timer aborts the controller.
      if (controller.signal.aborted) {
        throw new UnderstudyError(
          ErrorCode.DeadlineExceeded,
          `${url} took longer than ${target.timeoutMs} ms`,
          { cause: error },
        );
      }
      if (request.signal?.aborted === true) {
        throw new UnderstudyError(ErrorCode.Cancelled, `${url}: the caller went away`, {
          cause: error,
        });
      }
      throw new UnderstudyError(ErrorCode.Unavailable, `${url} is unreachable`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}
