import {
  SpanKind,
  SpanStatusCode,
  context,
  metrics,
  propagation,
  trace,
  type Attributes,
  type Counter,
  type Histogram,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { ClustererService, Route } from '@understudy/contracts';
import { ErrorCode, UnderstudyError, httpStatusOf } from '@understudy/errors';
import type { Client } from '@understudy/grpc';
import { recordFailure, silentLogger, type Logger } from '@understudy/telemetry';
import type { Upstream, UpstreamResponse, UpstreamTarget } from '../drivers/upstream.js';
import { toLlmCall } from './call.js';
import { decide, type Classification } from './decide.js';
import { requestAttributes, responseAttributes } from './genai.js';
import { openAiError, type ChatCompletion, type ChatRequest } from './openai.js';
import type { RoutingTableView } from './routing-table.js';
import { ChunkAccumulator, SseReader } from './stream.js';

export type Classifier = Pick<Client<typeof ClustererService>, 'classifyCall'>;

/** Who answered, as told to the caller in `x-understudy-route`. */
export type Answerer = 'slm' | 'llm' | 'llm-fallback';

export interface GatewayOptions {
  readonly llm: UpstreamTarget & { readonly provider: string };
  /** SLM wait before falling back, for routes that set no timeout of their own. */
  readonly slmTimeoutMs: number;
  /** Deadline of ClassifyCall: a slow clusterer must not slow every call down. */
  readonly classifyTimeoutMs: number;
  /** Shadow copies in flight at most; further ones are dropped, never queued. */
  readonly shadowConcurrency: number;
  readonly logger?: Logger;
}

export interface Caller {
  readonly tenantId: string;
  /** Canary and shadow shares are drawn from it, so retries with the same id land alike. */
  readonly requestId: string;
  /**
   * The calling agent (`x-understudy-agent`), as its own spans name it in `gen_ai.agent.name`:
   * a call's task signature includes its agent, so without it a call classifies as no agent's.
   */
  readonly agentName?: string;
  /** Aborts when the caller hangs up. */
  readonly signal: AbortSignal;
}

export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | AsyncIterable<Uint8Array>;
}

/** Provider name on spans of calls answered by Understudy's own small models. */
const slmProvider = 'understudy';

/**
 * Answers OpenAI chat completions: classifies the call into a task, picks the task's small model
 * or the LLM from the routing table, falls back to the LLM where the route allows, mirrors
 * shadow copies, and records each model call as an OpenTelemetry GenAI span.
 */
export class Gateway {
  readonly #classifier: Classifier;
  readonly #table: RoutingTableView;
  readonly #upstream: Upstream;
  readonly #options: GatewayOptions;
  readonly #logger: Logger;
  // Taken when the gateway is built, after the service installed the SDK.
  readonly #tracer: Tracer = trace.getTracer('understudy.inference-gateway');
  readonly #requests: Counter;
  readonly #duration: Histogram;
  readonly #classifyFailures: Counter;
  readonly #shadowsDropped: Counter;
  readonly #closing = new AbortController();
  #shadowsInFlight = 0;

  constructor(
    classifier: Classifier,
    table: RoutingTableView,
    upstream: Upstream,
    options: GatewayOptions,
  ) {
    this.#classifier = classifier;
    this.#table = table;
    this.#upstream = upstream;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    const meter = metrics.getMeter('understudy.inference-gateway');
    this.#requests = meter.createCounter('understudy.gateway.requests', {
      description: 'Chat completions answered, by answerer and HTTP status',
    });
    this.#duration = meter.createHistogram('gen_ai.client.operation.duration', {
      description: 'Duration of model calls made by the gateway',
      unit: 's',
    });
    this.#classifyFailures = meter.createCounter('understudy.gateway.classify.failures', {
      description: 'Calls sent to the LLM because the clusterer did not classify them',
    });
    this.#shadowsDropped = meter.createCounter('understudy.gateway.shadow.dropped', {
      description: 'Shadow copies not sent because too many were in flight',
    });
  }

  async chat(request: ChatRequest, caller: Caller): Promise<Reply> {
    const classification = await this.#classify(request, caller);
    const routes =
      classification === undefined
        ? []
        : this.#table.routesFor(caller.tenantId, classification.taskId);
    const decision = decide(routes, classification, caller.requestId);
    const task = classification === undefined ? {} : { 'x-understudy-task': classification.taskId };
    for (const shadow of decision.shadows) this.#mirror(shadow, request);

    const route = decision.answer;
    const seen = {
      'understudy.tenant.id': caller.tenantId,
      ...(classification !== undefined && { 'understudy.task.id': classification.taskId }),
      ...(caller.agentName !== undefined && { 'gen_ai.agent.name': caller.agentName }),
    };
    if (route === undefined) return this.#llm('llm', request, caller, task, seen);
    const fallback = route.fallback?.fallbackToLlm === true;
    try {
      const response = await this.#call(
        'slm',
        slmTarget(route, this.#options.slmTimeoutMs),
        { ...request, model: route.servingName },
        request,
        { ...seen, ...routeAttributes(route) },
        caller.signal,
      );
      if (isOk(response.status) || !fallback) return this.#reply('slm', response, task);
      this.#logger.warn(
        { routeId: route.routeId, status: response.status },
        'small model failed; falling back to the LLM',
      );
    } catch (error) {
      if (!fallback || caller.signal.aborted) return this.#failure('slm', error, task);
      this.#logger.warn({ routeId: route.routeId, err: error }, 'small model failed; falling back');
    }
    return this.#llm('llm-fallback', request, caller, task, seen);
  }

  /** The LLM provider's models: callers name those, whichever model ends up answering. */
  async models(signal: AbortSignal): Promise<Reply> {
    try {
      const response = await this.#upstream.send(this.#options.llm, {
        method: 'GET',
        path: '/models',
        signal,
      });
      return {
        status: response.status,
        headers: { 'content-type': response.contentType },
        body: text(response),
      };
    } catch (error) {
      return failure(error, {});
    }
  }

  /** Abandons shadow copies in flight. */
  close(): void {
    this.#closing.abort();
  }

  async #classify(request: ChatRequest, caller: Caller): Promise<Classification | undefined> {
    const active = trace.getActiveSpan()?.spanContext();
    const call = toLlmCall(request, {
      tenantId: caller.tenantId,
      traceId: active?.traceId ?? '',
      spanId: active?.spanId ?? '',
      provider: this.#options.llm.provider,
      ...(caller.agentName !== undefined && { agentName: caller.agentName }),
    });
    try {
      const { taskId, confidence } = await this.#classifier.classifyCall(
        { call },
        { timeoutMs: this.#options.classifyTimeoutMs, signal: caller.signal },
      );
      return taskId === '' ? undefined : { taskId, confidence };
    } catch (error) {
      // Routing is an optimisation: without an answer the call is served by the LLM.
      const code = UnderstudyError.from(error).code;
      this.#classifyFailures.add(1, { 'error.type': code });
      this.#logger.debug({ err: error }, 'classification failed; the call goes to the LLM');
      return undefined;
    }
  }

  async #llm(
    answerer: Answerer,
    request: ChatRequest,
    caller: Caller,
    task: Record<string, string>,
    attributes: Attributes,
  ): Promise<Reply> {
    try {
      const response = await this.#call(
        'llm',
        this.#options.llm,
        request,
        request,
        attributes,
        caller.signal,
      );
      return this.#reply(answerer, response, task);
    } catch (error) {
      return this.#failure(answerer, error, task);
    }
  }

  #mirror(route: Route, request: ChatRequest): void {
    if (this.#shadowsInFlight >= this.#options.shadowConcurrency) {
      this.#shadowsDropped.add(1);
      return;
    }
    this.#shadowsInFlight += 1;
    // Read whole: nobody consumes a shadow's stream.
    const copy: Record<string, unknown> = { ...request, model: route.servingName };
    delete copy['stream'];
    delete copy['stream_options'];
    const target = slmTarget(route, this.#options.slmTimeoutMs);
    void this.#call(
      'shadow',
      target,
      copy as ChatRequest,
      request,
      routeAttributes(route),
      this.#closing.signal,
    )
      .catch((error: unknown) => {
        this.#logger.debug({ routeId: route.routeId, err: error }, 'shadow copy failed');
      })
      .finally(() => {
        this.#shadowsInFlight -= 1;
      });
  }

  /** One model call in its own GenAI client span, which ends when a stream does. */
  async #call(
    kind: 'slm' | 'llm' | 'shadow',
    target: UpstreamTarget,
    body: ChatRequest,
    original: ChatRequest,
    extra: Attributes,
    signal: AbortSignal,
  ): Promise<UpstreamResponse> {
    const provider = kind === 'llm' ? this.#options.llm.provider : slmProvider;
    const url = new URL(target.baseUrl);
    const attributes: Attributes = {
      ...requestAttributes(original, provider),
      'server.address': url.hostname,
      ...(url.port !== '' && { 'server.port': Number(url.port) }),
      'understudy.route': kind,
      ...extra,
    };
    const span = this.#tracer.startSpan(`chat ${original.model}`, {
      kind: SpanKind.CLIENT,
      attributes,
    });
    const headers: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), span), headers);
    const started = performance.now();
    const finish = (completion: ChatCompletion | undefined, status: number) => {
      if (completion !== undefined) span.setAttributes(responseAttributes(completion));
      if (!isOk(status)) {
        span.setAttribute('error.type', String(status));
        span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${status}` });
      }
      this.#duration.record((performance.now() - started) / 1000, {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': provider,
        'gen_ai.request.model': original.model,
        ...(!isOk(status) && { 'error.type': String(status) }),
      });
      span.end();
    };

    let response: UpstreamResponse;
    try {
      response = await this.#upstream.send(target, {
        method: 'POST',
        path: '/chat/completions',
        body,
        stream: body.stream === true,
        headers,
        signal,
      });
    } catch (error) {
      recordFailure(span, error);
      span.end();
      throw error;
    }
    if (!response.streamed) {
      finish(isOk(response.status) ? parseCompletion(response.text) : undefined, response.status);
      return response;
    }
    return {
      ...response,
      body: observe(response.body, span, (c) => {
        finish(c, response.status);
      }),
    };
  }

  #reply(answerer: Answerer, response: UpstreamResponse, task: Record<string, string>): Reply {
    this.#requests.add(1, {
      'understudy.route': answerer,
      'http.response.status_code': response.status,
    });
    return {
      status: response.status,
      headers: {
        'content-type': response.contentType,
        'x-understudy-route': answerer,
        ...task,
        ...(response.streamed && { 'cache-control': 'no-cache' }),
      },
      body: text(response),
    };
  }

  #failure(answerer: Answerer, error: unknown, task: Record<string, string>): Reply {
    const reply = failure(error, { 'x-understudy-route': answerer, ...task });
    this.#requests.add(1, {
      'understudy.route': answerer,
      'http.response.status_code': reply.status,
    });
    return reply;
  }
}

/** An upstream that could not be reached or did not answer in time, in OpenAI's error shape. */
function failure(error: unknown, headers: Record<string, string>): Reply {
  const { code } = UnderstudyError.from(error);
  // The upstream's address stays inside: callers learn what failed, not where.
  const [status, message] =
    code === ErrorCode.DeadlineExceeded
      ? [504, 'the model did not answer in time']
      : code === ErrorCode.Unavailable
        ? [502, 'the model is unreachable']
        : [httpStatusOf(code), 'the model call failed'];
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(openAiError(message, 'api_error', code.toLowerCase())),
  };
}

/**
 * Passes a server-sent event stream through byte for byte while folding its chunks into the
 * completion they spell; `done` gets it when the stream ends, fails or is abandoned.
 */
async function* observe(
  body: AsyncIterable<Uint8Array>,
  span: Span,
  done: (completion: ChatCompletion) => void,
): AsyncGenerator<Uint8Array> {
  const decoder = new TextDecoder();
  const reader = new SseReader();
  const accumulator = new ChunkAccumulator();
  try {
    for await (const bytes of body) {
      yield bytes;
      for (const data of reader.feed(decoder.decode(bytes, { stream: true }))) {
        if (data === '[DONE]') continue;
        const chunk = parseCompletion(data);
        if (chunk !== undefined) accumulator.add(chunk);
      }
    }
  } catch (error) {
    recordFailure(span, error);
    throw error;
  } finally {
    done(accumulator.completion());
  }
}

function parseCompletion(json: string): ChatCompletion | undefined {
  try {
    const parsed: unknown = JSON.parse(json);
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function text(response: UpstreamResponse): string | AsyncIterable<Uint8Array> {
  return response.streamed ? response.body : response.text;
}

function isOk(status: number): boolean {
  return status >= 200 && status < 300;
}

function slmTarget(route: Route, defaultTimeoutMs: number): UpstreamTarget {
  const timeout = route.fallback?.timeout;
  const ms = timeout === undefined ? 0 : Number(timeout.seconds) * 1000 + timeout.nanos / 1e6;
  return { baseUrl: route.endpoint, timeoutMs: ms > 0 ? ms : defaultTimeoutMs };
}

function routeAttributes(route: Route): Attributes {
  return {
    'understudy.tenant.id': route.tenantId,
    'understudy.task.id': route.taskId,
    'understudy.route.id': route.routeId,
    'understudy.model_version.id': route.modelVersionId,
  };
}
