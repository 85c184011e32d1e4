import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { IJob } from 'kubernetes-models/batch/v1';
import type { IPod } from 'kubernetes-models/v1';
import { lines } from '../../domain/trainer-protocol.js';

export interface KubeClientOptions {
  /** API server URL: `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT` in a cluster. */
  readonly baseUrl: string;
  /** Bearer token; a function is called per request, so a rotated service-account token is used. */
  readonly token: () => Promise<string>;
  /** CA bundle of the API server (the service account's `ca.crt`). */
  readonly ca?: string | Buffer;
  readonly namespace: string;
  /** Deadline of non-streaming requests. */
  readonly timeoutMs?: number;
}

export interface JobList {
  readonly items: readonly IJob[];
  readonly resourceVersion: string;
}

export type WatchEvent =
  | { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly object: IJob }
  | { readonly type: 'BOOKMARK'; readonly object: IJob };

/** The stored resource version is too old to watch from: list again. */
export class WatchExpired extends UnderstudyError {
  constructor() {
    super(ErrorCode.Aborted, 'watch resource version expired (410 Gone)', { retryable: true });
  }
}

interface Request {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  /** Streams (watch, follow) have no deadline; the signal ends them. */
  readonly stream?: boolean;
  readonly signal?: AbortSignal;
}

interface Status {
  readonly kind?: string;
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
}

/**
 * A small client of the Kubernetes REST API for what the executor does with Jobs: create, get,
 * list, watch (resuming on 410 is the caller's), delete in the background, and pod logs.
 */
export class KubeClient {
  private readonly jobs: string;
  private readonly pods: string;

  constructor(private readonly options: KubeClientOptions) {
    const namespace = encodeURIComponent(options.namespace);
    this.jobs = `/apis/batch/v1/namespaces/${namespace}/jobs`;
    this.pods = `/api/v1/namespaces/${namespace}/pods`;
  }

  async createJob(job: IJob): Promise<IJob> {
    return (await this.json({ method: 'POST', path: this.jobs, body: job })) as IJob;
  }

  async getJob(name: string): Promise<IJob> {
    return (await this.json({ method: 'GET', path: `${this.jobs}/${name}` })) as IJob;
  }

  async listJobs(selector: { labelSelector?: string; fieldSelector?: string }): Promise<JobList> {
    const list = (await this.json({ method: 'GET', path: this.jobs, query: selector })) as {
      items: IJob[];
      metadata: { resourceVersion: string };
    };
    return { items: list.items, resourceVersion: list.metadata.resourceVersion };
  }

  /** Job changes after `resourceVersion`; throws WatchExpired on 410, ends on server timeout. */
  async *watchJobs(
    selector: { labelSelector?: string; fieldSelector?: string },
    resourceVersion: string,
    signal: AbortSignal,
  ): AsyncGenerator<WatchEvent> {
    const response = await this.send({
      method: 'GET',
      path: this.jobs,
      query: { ...selector, watch: 'true', resourceVersion, allowWatchBookmarks: 'true' },
      stream: true,
      signal,
    });
    try {
      for await (const text of lines(response)) {
        if (text.trim() === '') continue;
        const event = JSON.parse(text) as { type: string; object: IJob & Status };
        if (event.type === 'ERROR') {
          if (event.object.code === 410) throw new WatchExpired();
          throw statusError(event.object.code ?? 500, event.object);
        }
        yield event as WatchEvent;
      }
    } finally {
      response.destroy();
    }
  }

  /** Deletes the Job and, in the background, its pods; a missing Job is not an error. */
  async deleteJob(name: string): Promise<void> {
    try {
      await this.json({
        method: 'DELETE',
        path: `${this.jobs}/${name}`,
        query: { propagationPolicy: 'Background' },
      });
    } catch (error) {
      if (error instanceof UnderstudyError && error.code === ErrorCode.NotFound) return;
      throw error;
    }
  }

  async listPods(labelSelector: string): Promise<readonly IPod[]> {
    const list = (await this.json({
      method: 'GET',
      path: this.pods,
      query: { labelSelector },
    })) as {
      items: IPod[];
    };
    return list.items;
  }

  /** The container's log lines; with `follow`, until the container exits. */
  async *podLog(
    pod: string,
    options: { container: string; follow: boolean },
    signal: AbortSignal,
  ): AsyncGenerator<string> {
    const response = await this.send({
      method: 'GET',
      path: `${this.pods}/${pod}/log`,
      query: { container: options.container, ...(options.follow && { follow: 'true' }) },
      stream: options.follow,
      signal,
    });
    try {
      yield* lines(response);
    } finally {
      response.destroy();
    }
  }

  private async json(request: Request): Promise<unknown> {
    const response = await this.send(request);
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text === '' ? {} : (JSON.parse(text) as unknown);
  }

  /** Sends a request and resolves with a 2xx response; other statuses become UnderstudyErrors. */
  private async send(request: Request): Promise<IncomingMessage> {
    const url = new URL(this.options.baseUrl);
    url.pathname = `${url.pathname.replace(/\/$/, '')}${request.path}`;
    for (const [key, value] of Object.entries(request.query ?? {})) {
      url.searchParams.set(key, value);
    }
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: `Bearer ${await this.options.token()}`,
      ...(body !== undefined && {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
      }),
    };
    const transport = url.protocol === 'https:' ? https : http;
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const outgoing = transport.request(url, {
        method: request.method,
        headers,
        ...(this.options.ca !== undefined && { ca: this.options.ca }),
        ...(request.signal !== undefined && { signal: request.signal }),
        ...(!request.stream && { timeout: this.options.timeoutMs ?? 30_000 }),
      });
      outgoing.once('response', resolve);
      outgoing.once('timeout', () => {
        outgoing.destroy(
          new UnderstudyError(ErrorCode.DeadlineExceeded, `${request.method} ${request.path}`),
        );
      });
      outgoing.once('error', (error) => {
        reject(
          error instanceof UnderstudyError
            ? error
            : new UnderstudyError(ErrorCode.Unavailable, 'Kubernetes API unreachable', {
                cause: error,
              }),
        );
      });
      outgoing.end(body);
    });
    const status = response.statusCode ?? 500;
    if (status >= 200 && status < 300) return response;
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    let detail: Status = {};
    try {
      detail = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Status;
    } catch {
      // Not a Status object (e.g. a proxy's HTML page): the HTTP status says enough.
    }
    if (status === 410) throw new WatchExpired();
    throw statusError(status, detail);
  }
}

const codes: Record<number, ErrorCode> = {
  400: ErrorCode.InvalidArgument,
  401: ErrorCode.Unauthenticated,
  403: ErrorCode.PermissionDenied,
  404: ErrorCode.NotFound,
  409: ErrorCode.AlreadyExists,
  422: ErrorCode.InvalidArgument,
  429: ErrorCode.Unavailable,
};

function statusError(status: number, detail: Status): UnderstudyError {
  const code = codes[status] ?? (status >= 500 ? ErrorCode.Unavailable : ErrorCode.Internal);
  return new UnderstudyError(
    code,
    `Kubernetes API ${String(status)} ${detail.reason ?? ''}: ${detail.message ?? ''}`.trim(),
    { details: { status, ...(detail.reason !== undefined && { reason: detail.reason }) } },
  );
}
