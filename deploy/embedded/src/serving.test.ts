import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemDriver } from '@understudy/storage';
import type { Logger } from '@understudy/telemetry';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalServing, type ServedModel } from './serving.js';

/** What the fake server records of each start, one JSON line each. */
interface Start {
  readonly argv: string[];
  readonly env: Record<string, string | undefined>;
  readonly files: string[];
  readonly pid: number;
  /** Absent when it exits at once (`fake-crash`). */
  readonly helper?: number;
}

/**
 * A stand-in for the trainer's `serve`: a Node script behind a `python` wrapper that honours
 * the same CLI, refuses to start without a staged adapter_config.json, and answers /health and
 * chat completions (JSON, or SSE chunks 200 ms apart) naming its model and pid. It also starts
 * a helper process, as torch does, to show that stopping reaches the whole process group. A
 * `--base-model` of `fake-crash` exits before it is ready, `fake-hang` never listens.
 */
const fakeServe = (startsFile: string) => `
import { spawn } from 'node:child_process';
import { appendFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const arg = (name) => argv[argv.indexOf(name) + 1];
const model = arg('--model-name');
const adapter = fileURLToPath(arg('--adapter'));
const files = readdirSync(adapter, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile())
  .map((entry) => relative(adapter, join(entry.parentPath, entry.name)))
  .sort();
const runs = files.includes('adapter_config.json') && arg('--base-model') !== 'fake-crash';
const helper = runs
  ? spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  : undefined;
const env = Object.fromEntries(
  ['HOME', 'PYTHONPATH', 'PYTHONUNBUFFERED', 'OMP_NUM_THREADS', 'SECRET_OF_THE_PLATFORM']
    .map((name) => [name, process.env[name]]),
);
appendFileSync(${JSON.stringify(startsFile)},
  JSON.stringify({ argv, env, files, pid: process.pid, helper: helper?.pid }) + '\\n');
console.error('loading base model ' + arg('--base-model'));
if (!files.includes('adapter_config.json')) {
  console.error('no adapter_config.json in ' + adapter);
  process.exit(1);
}
if (!runs) {
  console.error('CUDA out of memory');
  process.exit(3);
}
if (arg('--base-model') === 'fake-hang') setInterval(() => {}, 1000);
else setTimeout(listen, 300);

function listen() {
  const server = createServer(async (req, res) => {
    if (req.url === '/health') return res.writeHead(200).end('{"status":"ok"}');
    let text = '';
    for await (const chunk of req) text += chunk;
    const body = JSON.parse(text);
    // Still running but deaf, as a child on its way out is.
    if (body.messages?.[0]?.content === 'stop listening') server.close();
    if (body.messages === undefined) {
      res.writeHead(400, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { message: 'messages is required', code: 'x' } }));
    }
    const content = 'echo from ' + model + ' pid ' + process.pid;
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({
        object: 'chat.completion', model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      }));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const piece of content.split(' ')) {
      const chunk = { object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: piece } }] };
      res.write('data: ' + JSON.stringify(chunk) + '\\n\\n');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    res.end('data: [DONE]\\n\\n');
  });
  server.listen(Number(arg('--port')), arg('--host'), () => console.error('serving ' + model));
}
`;

const adapterFiles = {
  'adapter_config.json': '{"r":4}',
  'adapter_model.safetensors': 'weights',
  'tokenizer/tokenizer.json': '{}',
};

describe('LocalServing', () => {
  let dir: string;
  let python: string;
  let startsFile: string;
  let store: FilesystemDriver;
  let serving: LocalServing | undefined;
  const resolved: string[] = [];
  const logged: string[] = [];

  const models: Record<string, ServedModel> = {
    'understudy-m1': {
      baseModel: 'tiny-random:qwen2',
      adapterUri: 's3://adapters/models/m1/adapter/',
    },
    'understudy-m2': {
      baseModel: 'tiny-random:qwen2',
      adapterUri: 's3://adapters/models/m2/adapter',
    },
    'understudy-empty': { baseModel: 'tiny-random:qwen2', adapterUri: 's3://adapters/nothing/' },
    'understudy-elsewhere': {
      baseModel: 'tiny-random:qwen2',
      adapterUri: 's3://other/models/m1/adapter/',
    },
    'understudy-crash': { baseModel: 'fake-crash', adapterUri: 's3://adapters/models/m1/adapter/' },
    'understudy-hang': { baseModel: 'fake-hang', adapterUri: 's3://adapters/models/m1/adapter/' },
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'local-serving-'));
    startsFile = join(dir, 'starts.jsonl');
    const script = join(dir, 'fake-serve.mjs');
    await writeFile(script, fakeServe(startsFile));
    python = join(dir, 'python');
    await writeFile(python, `#!/bin/sh\nexec '${process.execPath}' '${script}' "$@"\n`);
    await chmod(python, 0o755);
    store = new FilesystemDriver({ root: join(dir, 'objects') });
    await store.init();
    for (const [name, body] of Object.entries(adapterFiles)) {
      await store.put(`models/m1/adapter/${name}`, Buffer.from(body));
      await store.put(`models/m2/adapter/${name}`, Buffer.from(body));
    }
    // Beside the adapter, not part of it.
    await store.put('models/m1/metrics.json', Buffer.from('{}'));
    await store.put('models/m1/adapter-old/adapter_config.json', Buffer.from('{}'));
  });

  afterEach(async () => {
    await serving?.stop();
    serving = undefined;
    await rm(startsFile, { force: true });
    resolved.length = 0;
    logged.length = 0;
    vi.unstubAllEnvs();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function start(startTimeoutMs = 20_000): Promise<string> {
    serving = new LocalServing({
      logger: recordingLogger(logged),
      host: '127.0.0.1',
      port: 0,
      python,
      pythonPath: '/opt/trainer/src',
      store,
      bucket: 'adapters',
      workDir: join(dir, 'work'),
      resolve: (model) => {
        resolved.push(model);
        return Promise.resolve(models[model]);
      },
      startTimeoutMs,
    });
    return serving.start();
  }

  async function starts(): Promise<Start[]> {
    const text = await readFile(startsFile, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Start);
  }

  const chat = (url: string, body: unknown) =>
    fetch(`${url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  const ask = (model: string, extra: object = {}) => ({
    model,
    messages: [{ role: 'user', content: 'hi' }],
    ...extra,
  });

  async function answerOf(response: Response): Promise<string> {
    const completion = (await response.json()) as { choices: { message: { content: string } }[] };
    return completion.choices[0]?.message.content ?? '';
  }

  it('stages the adapter, starts serve with its arguments and proxies a completion', async () => {
    const url = await start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    // Not for the child: its environment is the platform's to choose.
    vi.stubEnv('SECRET_OF_THE_PLATFORM', 'kept');

    const response = await chat(url, ask('understudy-m1'));

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    const [first] = await starts();
    expect(await answerOf(response)).toBe(`echo from understudy-m1 pid ${String(first?.pid)}`);
    const adapter = join(dir, 'work', 'understudy-m1', 'adapter');
    expect(first?.argv).toEqual([
      ...['-m', 'understudy_trainer', 'serve', '--base-model', 'tiny-random:qwen2'],
      ...['--adapter', `file://${adapter}`, '--model-name', 'understudy-m1'],
      ...['--host', '127.0.0.1', '--port', expect.stringMatching(/^\d+$/) as string],
    ]);
    expect(first?.files).toEqual(Object.keys(adapterFiles).sort());
    expect(logged).toEqual(
      expect.arrayContaining([
        'staging adapter',
        'starting serve',
        'serve output: loading base model tiny-random:qwen2',
        expect.stringMatching(/^ready in \d+ ms$/) as string,
      ]),
    );
    expect(first?.env).toEqual({
      HOME: join(dir, 'work'),
      PYTHONPATH: '/opt/trainer/src',
      PYTHONUNBUFFERED: '1',
      OMP_NUM_THREADS: process.env['OMP_NUM_THREADS'] ?? '1',
    });
  });

  it('lists the loaded models and answers health checks', async () => {
    const url = await start();
    const listed = async () => (await fetch(`${url}/models`)).json();
    expect(await listed()).toEqual({ object: 'list', data: [] });
    await chat(url, ask('understudy-m1'));
    expect(await listed()).toEqual({
      object: 'list',
      data: [
        {
          id: 'understudy-m1',
          object: 'model',
          created: expect.any(Number) as number,
          owned_by: 'understudy',
        },
      ],
    });
    const health = await fetch(`${url.replace(/\/v1$/, '')}/health`);
    expect(health.status).toBe(200);
  });

  it('streams server-sent events through as the child writes them', async () => {
    const url = await start();
    const response = await chat(url, ask('understudy-m1', { stream: true }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    const chunks = (response.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    const decoder = new TextDecoder();
    // The first chunk arrives while the child still waits to write the second.
    const head = await chunks.next();
    const first = head.done === true ? '' : decoder.decode(head.value);
    expect(first).toBe(
      'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"echo"}}]}\n\n',
    );
    let rest = '';
    for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) {
      rest += decoder.decode(next.value, { stream: true });
    }
    const events = `${first}${rest}`.split('\n\n').filter((event) => event !== '');
    const [started] = await starts();
    expect(events).toHaveLength(6);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.at(-2)).toContain(`"content":"${String(started?.pid)}"`);
  });

  it('passes the child’s own error answers through', async () => {
    const url = await start();
    const response = await chat(url, { model: 'understudy-m1' });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: { message: 'messages is required', code: 'x' },
    });
  });

  it('answers bad requests and unknown models in OpenAI’s error shape', async () => {
    const url = await start();
    const notJson = await chat(url, '{"model":');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toEqual({
      error: {
        message: 'the body is not valid JSON',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_argument',
      },
    });
    const noModel = await chat(url, { messages: [] });
    expect(noModel.status).toBe(400);
    expect(await noModel.json()).toMatchObject({ error: { message: 'the body has no `model`' } });

    const unknown = await chat(url, ask('gpt-4o'));
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      error: {
        message: "The model 'gpt-4o' does not exist",
        type: 'invalid_request_error',
        param: null,
        code: 'model_not_found',
      },
    });
    // Not a plain directory name: refused without asking the registry.
    expect((await chat(url, ask('../understudy-m1'))).status).toBe(404);
    expect(resolved).toEqual(['gpt-4o']);
    expect((await fetch(`${url}/completions`, { method: 'POST' })).status).toBe(404);
    expect(await starts()).toEqual([]);
  });

  it('starts one child for concurrent first requests, one per model', async () => {
    const url = await start();
    const responses = await Promise.all([
      chat(url, ask('understudy-m1')),
      chat(url, ask('understudy-m1', { stream: true })),
      chat(url, ask('understudy-m1')),
      chat(url, ask('understudy-m2')),
    ]);
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200]);
    const byModel = (await starts()).map(
      (started) => started.argv[started.argv.indexOf('--model-name') + 1],
    );
    expect(byModel.sort()).toEqual(['understudy-m1', 'understudy-m2']);
    expect(resolved.sort()).toEqual(['understudy-m1', 'understudy-m2']);
    // An adapter URI without its trailing slash is staged the same way.
    expect((await starts()).map((started) => started.files)).toEqual([
      Object.keys(adapterFiles).sort(),
      Object.keys(adapterFiles).sort(),
    ]);
  });

  it('starts a child again on the next request after it died', async () => {
    const url = await start();
    expect((await chat(url, ask('understudy-m1'))).status).toBe(200);
    const [first] = await starts();
    process.kill(-first!.pid, 'SIGKILL');
    await expect
      .poll(async () => (await (await fetch(`${url}/models`)).json()) as object)
      .toEqual({
        object: 'list',
        data: [],
      });

    const again = await chat(url, ask('understudy-m1'));
    expect(again.status).toBe(200);
    const [, second] = await starts();
    expect(second?.pid).not.toBe(first?.pid);
    expect(await answerOf(again)).toBe(`echo from understudy-m1 pid ${String(second?.pid)}`);
  });

  it('replaces a child that refuses connections before its exit is seen', async () => {
    const url = await start();
    const deafened = await chat(url, {
      model: 'understudy-m1',
      messages: [{ role: 'user', content: 'stop listening' }],
    });
    expect(deafened.status).toBe(200);
    const [first] = await starts();

    const again = await chat(url, ask('understudy-m1'));
    expect(again.status).toBe(200);
    const [, second] = await starts();
    expect(await answerOf(again)).toBe(`echo from understudy-m1 pid ${String(second?.pid)}`);
    expect(alive(first!.pid)).toBe(false);
  });

  it('fails a request with 503 and the child’s last words when it cannot start', async () => {
    const url = await start();
    const response = await chat(url, ask('understudy-crash'));
    expect(response.status).toBe(503);
    const { error } = (await response.json()) as {
      error: { message: string; type: string; code: string };
    };
    expect(error).toMatchObject({ type: 'server_error', code: 'unavailable' });
    expect(error.message).toContain("cannot serve 'understudy-crash'");
    expect(error.message).toContain('stopped before it was ready: it exited with code 3');
    expect(error.message).toContain('CUDA out of memory');
    // Not remembered: the next request tries again.
    expect((await chat(url, ask('understudy-crash'))).status).toBe(503);
    expect(await starts()).toHaveLength(2);
  });

  it('says so when the python cannot be run', async () => {
    python = join(dir, 'no-such-python');
    try {
      const url = await start();
      const response = await chat(url, ask('understudy-m1'));
      expect(response.status).toBe(503);
      expect(await response.text()).toContain(
        `the model server stopped before it was ready: it could not be started: spawn ${python} ENOENT`,
      );
    } finally {
      python = join(dir, 'python');
    }
  });

  it('gives up on a child that is not ready in time, and stops it', async () => {
    const url = await start(1_000);
    const response = await chat(url, ask('understudy-hang'));
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(
      'the model server was not ready after 1000 ms; its last output:\nloading base model fake-hang',
    );
    const [hung] = await starts();
    expect(alive(hung!.pid)).toBe(false);
  });

  it('refuses adapters it cannot stage', async () => {
    const url = await start();
    const empty = await chat(url, ask('understudy-empty'));
    expect(empty.status).toBe(503);
    expect(await empty.text()).toContain('no adapter files under s3://adapters/nothing/');
    const elsewhere = await chat(url, ask('understudy-elsewhere'));
    expect(elsewhere.status).toBe(503);
    expect(await elsewhere.text()).toContain('is not in the local store (s3://adapters/)');
    expect(await starts()).toEqual([]);
  });

  it('stops every child and its process group', async () => {
    const url = await start();
    await Promise.all([chat(url, ask('understudy-m1')), chat(url, ask('understudy-m2'))]);
    const pids = (await starts()).flatMap((started) => [started.pid, started.helper ?? 0]);
    expect(pids.map(alive)).toEqual([true, true, true, true]);

    await serving?.stop();

    // The helpers die of the same SIGTERM, a moment after their parent.
    await expect.poll(() => pids.map(alive)).toEqual([false, false, false, false]);
    await expect(fetch(`${url}/models`)).rejects.toThrow();
  });
});

/** Whether a process runs; a zombie waiting for a parent that does not reap counts as gone. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${String(pid)}/stat`, 'utf8'));
  } catch {
    // No /proc: kill() is all there is to ask.
    return true;
  }
}

/** Keeps each message, with the `line` of a child's output when there is one. */
function recordingLogger(messages: string[]): Logger {
  const record = (fields: object, message?: string) => {
    const line = 'line' in fields ? `: ${String(fields.line)}` : '';
    messages.push(`${message ?? ''}${line}`);
  };
  const logger: Logger = {
    debug: record,
    info: record,
    warn: record,
    error: record,
    child: () => logger,
  };
  return logger;
}
