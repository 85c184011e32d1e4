import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import {
  Agent,
  createServer,
  request,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { ErrorCode, UnderstudyError, httpStatusOf } from '@understudy/errors';
import type { ObjectStore } from '@understudy/storage';
import { silentLogger, type Logger } from '@understudy/telemetry';
import { freePort } from './ports.js';

export interface ServedModel {
  readonly baseModel: string;
  /** `s3://<bucket>/<prefix>/`, in the store LocalServing was given. */
  readonly adapterUri: string;
}

export interface LocalServingOptions {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  /** The trainer venv's python; runs `-m understudy_trainer serve`. */
  readonly python: string;
  /** The trainer's sources (services/trainer/src), the children's PYTHONPATH. */
  readonly pythonPath: string;
  readonly store: ObjectStore;
  /** Adapters are `s3://<bucket>/<key>` objects of `store`. */
  readonly bucket: string;
  /** Staged adapters, one directory per model; also the children's HOME. */
  readonly workDir: string;
  /** The adapter behind a serving name, or undefined when the name is unknown. */
  readonly resolve: (model: string) => Promise<ServedModel | undefined>;
  readonly logger?: Logger;
  /** How long a child may take to load its model and answer /health (default 5 minutes). */
  readonly startTimeoutMs?: number;
}

/** The trainer's own limit on request bodies. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** A hub base model may have to be downloaded on the first start. */
const DEFAULT_START_TIMEOUT_MS = 5 * 60_000;
const KILL_GRACE_MS = 5_000;
const HEALTH_POLL_MS = 250;
const STDERR_TAIL_LINES = 20;
/**
 * A fresh loopback connection per request: a pooled one to a child that died fails with a
 * reset, which cannot be told from a crash mid-answer, while a fresh one is refused, which
 * is safe to retry on a new child.
 */
const toChildren = new Agent({ keepAlive: false });
/** Serving names become directory names: one plain path segment, nothing else. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/**
 * Hub and device settings the operator may have set for Python; the children's environment is
 * otherwise explicit, so that the platform's own secrets (database, LLM key) stay out of it.
 */
const INHERITED_ENV = [
  'HF_HOME',
  'HF_HUB_OFFLINE',
  'HF_ENDPOINT',
  'HF_TOKEN',
  'CUDA_VISIBLE_DEVICES',
  'UNDERSTUDY_LOG_LEVEL',
];

/**
 * The embedded platform's SLM endpoint: one OpenAI-compatible HTTP server that dispatches each
 * chat completion by its `model` (a registry serving name) to a `python -m understudy_trainer
 * serve` child for that adapter, started on first use, and streams the child's answer back
 * unchanged. The trainer cannot read the filesystem object store, so each adapter is staged
 * into `workDir` first. A child that dies is started again by the next request for it.
 */
export class LocalServing {
  readonly #options: LocalServingOptions;
  readonly #logger: Logger;
  readonly #server: Server;
  /** Per serving name, the one start under way or done: concurrent first requests share it. */
  readonly #starts = new Map<string, Promise<ServeProcess>>();
  /** Children that answered /health and still run, for /v1/models. */
  readonly #ready = new Map<string, ServeProcess>();
  /** Every child not yet exited, those still loading included, for stop(). */
  readonly #children = new Set<ServeProcess>();
  #stopping = false;

  constructor(options: LocalServingOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#server = createServer((req, res) => {
      this.#route(req, res).catch((error: unknown) => {
        this.#fail(res, error);
      });
    });
  }

  /** Listens and resolves to the base URL clients use, e.g. `http://127.0.0.1:8001/v1`. */
  async start(): Promise<string> {
    await mkdir(this.#options.workDir, { recursive: true });
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.#server.address() as AddressInfo;
    const host = this.#options.host.includes(':') ? `[${this.#options.host}]` : this.#options.host;
    const url = `http://${host}:${port}/v1`;
    this.#logger.info({ url }, 'local serving endpoint listening');
    return url;
  }

  /** Stops intake, then every child (SIGTERM, SIGKILL after a grace period), then open streams. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const closed = this.#server.listening
      ? new Promise<void>((resolve) => {
          this.#server.close(() => {
            resolve();
          });
        })
      : Promise.resolve();
    this.#server.closeIdleConnections();
    await Promise.all([...this.#children].map((child) => child.stop(KILL_GRACE_MS)));
    this.#server.closeAllConnections();
    await closed;
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://serving').pathname;
    const endpoint = `${req.method ?? 'GET'} ${path}`;
    switch (endpoint) {
      case 'GET /health':
        sendJson(res, 200, { status: 'ok' });
        return;
      case 'GET /v1/models':
        sendJson(res, 200, { object: 'list', data: [...this.#ready.values()].map(modelEntry) });
        return;
      case 'POST /v1/chat/completions':
        await this.#chat(req, res);
        return;
      default:
        sendJson(res, 404, openAiError(`no route for ${endpoint}`, 404, 'not_found'));
    }
  }

  async #chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const model = modelOf(body);
    // A child that died since the last request may not have been seen exiting yet: it refuses
    // the connection, and once it is gone for good, a fresh one gets the request.
    for (let attempt = 1; ; attempt += 1) {
      const child = await this.#childFor(model);
      if ((await child.proxy(body, res)) === 'answered') return;
      await child.stop(KILL_GRACE_MS);
      if (attempt === 2) {
        throw new UnderstudyError(
          ErrorCode.Unavailable,
          `the model server for '${model}' refused the connection`,
        );
      }
    }
  }

  /** The running child for `model`, starting one when there is none or the last one died. */
  async #childFor(model: string): Promise<ServeProcess> {
    const known = this.#starts.get(model);
    if (known === undefined) return this.#startShared(model);
    const child = await known;
    if (child.running) return child;
    this.#forget(model, known);
    // Asked again: a request that saw the same death may have started the replacement already.
    return this.#childFor(model);
  }

  #startShared(model: string): Promise<ServeProcess> {
    const started = this.#launch(model);
    this.#starts.set(model, started);
    started.then(
      (child) => {
        this.#ready.set(model, child);
        void child.exited.then(() => {
          this.#forget(model, started);
        });
      },
      // A failed start is not remembered: the next request tries again.
      () => {
        this.#forget(model, started);
      },
    );
    return started;
  }

  #forget(model: string, start: Promise<ServeProcess>): void {
    if (this.#starts.get(model) !== start) return;
    this.#starts.delete(model);
    this.#ready.delete(model);
  }

  async #launch(model: string): Promise<ServeProcess> {
    const served = SAFE_NAME.test(model) ? await this.#options.resolve(model) : undefined;
    if (served === undefined) {
      throw new UnderstudyError(ErrorCode.NotFound, `The model '${model}' does not exist`);
    }
    const log = this.#logger.child({ model });
    const began = performance.now();
    try {
      const adapterDir = join(this.#options.workDir, model, 'adapter');
      log.info({ adapter: served.adapterUri }, 'staging adapter');
      const files = await this.#stage(served.adapterUri, adapterDir);
      const port = await freePort('127.0.0.1');
      log.info({ baseModel: served.baseModel, port, files }, 'starting serve');
      const child = this.#spawn(model, served.baseModel, adapterDir, port, log);
      await child.ready(this.#options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
      const ms = Math.round(performance.now() - began);
      log.info({ ms, port }, `ready in ${ms} ms`);
      return child;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      log.warn({ err: error }, 'cannot start the model server');
      throw new UnderstudyError(ErrorCode.Unavailable, `cannot serve '${model}': ${reason}`, {
        cause: error,
      });
    }
  }

  /** Copies every object below the adapter's prefix into `dir`, replacing what was there. */
  async #stage(adapterUri: string, dir: string): Promise<number> {
    const prefix = this.#keyPrefix(adapterUri);
    await rm(dir, { recursive: true, force: true });
    let files = 0;
    for await (const entry of this.#options.store.list(prefix, { recursive: true })) {
      if (entry.type !== 'object') continue;
      // Store keys have no '.' or '..' segments, so the copy stays inside `dir`.
      const target = join(dir, entry.key.slice(prefix.length));
      await mkdir(dirname(target), { recursive: true });
      await pipeline(await this.#options.store.get(entry.key), createWriteStream(target));
      files += 1;
    }
    if (files === 0) throw new Error(`no adapter files under ${adapterUri}`);
    return files;
  }

  #keyPrefix(adapterUri: string): string {
    const bucketPrefix = `s3://${this.#options.bucket}/`;
    if (!adapterUri.startsWith(bucketPrefix)) {
      throw new Error(`the adapter ${adapterUri} is not in the local store (${bucketPrefix})`);
    }
    // A trailing '/' so that `adapter` does not also match `adapter-old/`.
    return adapterUri.slice(bucketPrefix.length).replace(/\/?$/, '/');
  }

  #spawn(
    model: string,
    baseModel: string,
    adapterDir: string,
    port: number,
    log: Logger,
  ): ServeProcess {
    // Checked here, after the last await: a start that outlives stop() must not leave a child.
    if (this.#stopping) throw new Error('the serving endpoint is stopping');
    const args = [
      ...['-m', 'understudy_trainer', 'serve', '--base-model', baseModel],
      ...['--adapter', pathToFileURL(adapterDir).href, '--model-name', model],
      ...['--host', '127.0.0.1', '--port', String(port)],
    ];
    const spawned = spawn(this.#options.python, args, {
      // Its own process group, so that stop() also reaches the server's worker processes.
      detached: true,
      env: this.#environment(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child = new ServeProcess(model, port, spawned, log);
    this.#children.add(child);
    void child.exited.then(() => this.#children.delete(child));
    return child;
  }

  #environment(): Record<string, string> {
    const inherited = INHERITED_ENV.flatMap((name) => {
      const value = process.env[name];
      return value === undefined ? [] : [[name, value] as const];
    });
    return {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      // Hugging Face caches land in the data dir (unless HF_HOME says otherwise).
      HOME: this.#options.workDir,
      PYTHONPATH: this.#options.pythonPath,
      PYTHONUNBUFFERED: '1',
      // One thread per child unless the operator says otherwise: several children would
      // otherwise each claim every core.
      OMP_NUM_THREADS: process.env['OMP_NUM_THREADS'] ?? '1',
      ...Object.fromEntries(inherited),
    };
  }

  #fail(res: ServerResponse, error: unknown): void {
    if (res.headersSent || res.destroyed) {
      // Mid-stream: the status is gone, so the client learns of the failure by the cut.
      this.#logger.debug({ err: error }, 'a proxied response ended early');
      res.destroy();
      return;
    }
    const failure = UnderstudyError.from(error);
    const status = httpStatusOf(failure.code);
    if (status >= 500) this.#logger.warn({ err: failure }, 'chat completion failed');
    // The only NotFound a chat completion raises is an unknown model.
    const code = failure.code === ErrorCode.NotFound ? 'model_not_found' : failure.code;
    sendJson(res, status, openAiError(failure.message, status, code.toLowerCase()));
  }
}

/**
 * One `serve` child: its port, whether it still runs, and its last output lines, which explain
 * a start that failed.
 */
class ServeProcess {
  readonly model: string;
  readonly port: number;
  /** Resolves once the process is gone and its output read. */
  readonly exited: Promise<void>;
  /** Unix seconds at which it became ready, as OpenAI's model objects have it. */
  created = 0;
  readonly #child: ChildProcess;
  readonly #tail: string[] = [];
  #exit: string | undefined;

  constructor(model: string, port: number, child: ChildProcess, log: Logger) {
    this.model = model;
    this.port = port;
    this.#child = child;
    const output = (stream: Readable | null) => {
      if (stream === null) return;
      createInterface({ input: stream }).on('line', (line) => {
        this.#tail.push(line);
        if (this.#tail.length > STDERR_TAIL_LINES) this.#tail.shift();
        log.info({ pid: this.#child.pid, line }, 'serve output');
      });
    };
    output(this.#child.stdout);
    output(this.#child.stderr);
    this.#child.once('exit', (code, signal) => {
      this.#exit = signal === null ? `exited with code ${String(code)}` : `was killed by ${signal}`;
    });
    this.exited = new Promise((resolve) => {
      this.#child.once('close', () => {
        resolve();
      });
      this.#child.once('error', (error) => {
        this.#exit = `could not be started: ${error.message}`;
        resolve();
      });
    });
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** Polls /health until it answers 200; fails when the process ends or time runs out. */
  async ready(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.running && performance.now() < deadline) {
      if (await this.#healthy()) {
        this.created = Math.floor(Date.now() / 1000);
        return;
      }
      await Promise.race([sleep(HEALTH_POLL_MS), this.exited]);
    }
    if (this.running) {
      await this.stop(KILL_GRACE_MS);
      throw new Error(`the model server was not ready after ${timeoutMs} ms${this.#lastLines()}`);
    }
    // Its last words arrive with 'close', just after 'exit'.
    await this.exited;
    throw new Error(
      `the model server stopped before it was ready: it ${this.#exit ?? 'exited'}${this.#lastLines()}`,
    );
  }

  /**
   * Sends the request body to the child and its answer, streamed or not, to `res` as is.
   * 'refused': the child no longer listens, and `res` is untouched.
   */
  proxy(body: Buffer, res: ServerResponse): Promise<'answered' | 'refused'> {
    return new Promise((resolve, reject) => {
      const upstream = request({
        host: '127.0.0.1',
        port: this.port,
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'content-type': 'application/json', 'content-length': body.length },
        agent: toChildren,
      });
      upstream.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNREFUSED') {
          resolve('refused');
          return;
        }
        reject(
          new UnderstudyError(ErrorCode.Unavailable, `the model server failed: ${error.message}`, {
            cause: error,
          }),
        );
      });
      upstream.once('response', (answer) => {
        res.writeHead(answer.statusCode ?? 502, passedHeaders(answer));
        pipeline(answer, res).then(() => {
          resolve('answered');
        }, reject);
      });
      // A client that hangs up ends the generation: the child sees its connection close.
      res.once('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      upstream.end(body);
    });
  }

  /** SIGTERM to the whole process group, then SIGKILL if it outlives `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return this.exited;
    this.#signal('SIGTERM');
    const gone = await Promise.race([
      this.exited.then(() => true),
      sleep(graceMs, false, { ref: false }),
    ]);
    if (!gone) this.#signal('SIGKILL');
    await this.exited;
  }

  async #healthy(): Promise<boolean> {
    try {
      const answer = await fetch(`http://127.0.0.1:${this.port}/health`, {
        signal: AbortSignal.timeout(2_000),
      });
      await answer.body?.cancel();
      return answer.ok;
    } catch {
      // Not listening yet.
      return false;
    }
  }

  #signal(signal: NodeJS.Signals): void {
    if (this.#child.pid === undefined) return;
    try {
      process.kill(-this.#child.pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }

  #lastLines(): string {
    return this.#tail.length === 0 ? '' : `; its last output:\n${this.#tail.join('\n')}`;
  }
}

function modelEntry(child: ServeProcess) {
  return { id: child.model, object: 'model', created: child.created, owned_by: 'understudy' };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new UnderstudyError(
        ErrorCode.PayloadTooLarge,
        `the body exceeds ${MAX_BODY_BYTES} bytes`,
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The `model` a chat completion asks for; the rest of the body is the child's to judge. */
function modelOf(body: Buffer): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'the body is not valid JSON', {
      cause: error,
    });
  }
  const model =
    typeof parsed === 'object' && parsed !== null && 'model' in parsed ? parsed.model : undefined;
  if (typeof model !== 'string' || model === '') {
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'the body has no `model`');
  }
  return model;
}

/** What the client needs to read the answer as the child wrote it; framing is Node's own. */
function passedHeaders(answer: IncomingMessage): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const name of ['content-type', 'content-length', 'cache-control']) {
    const value = answer.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  return headers;
}

function openAiError(message: string, status: number, code: string) {
  const type = status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message, type, param: null, code } };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
