import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Endpoint, TrainerPython } from '@understudy/testbed';

export interface AdapterServerOptions {
  readonly trainer: TrainerPython;
  readonly baseModel: string;
  /** `s3://bucket/prefix/`: the adapter directory as the registry records it. */
  readonly adapterUri: string;
  /** The `model` clients ask for: the model version's serving name. */
  readonly modelName: string;
  readonly port: number;
  readonly s3: S3Endpoint;
  /** The server's stdout and stderr. */
  readonly logFile: string;
}

export interface AdapterServer {
  /** OpenAI-compatible base URL (`…/v1`). */
  readonly baseUrl: string;
  stop(): Promise<void>;
}

/**
 * `python -m understudy_trainer serve` for one trained adapter, in its own process group (its
 * workers stop with it), ready once `/health` answers. One thread: the machine is shared.
 */
export async function serveAdapter(options: AdapterServerOptions): Promise<AdapterServer> {
  const { trainer, s3 } = options;
  const log = await open(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      trainer.python,
      [
        '-m',
        'understudy_trainer',
        'serve',
        ...['--base-model', options.baseModel],
        ...['--adapter', options.adapterUri],
        ...['--model-name', options.modelName],
        ...['--host', '127.0.0.1', '--port', String(options.port)],
      ],
      {
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
        env: {
          PATH: '/usr/local/bin:/usr/bin:/bin',
          HOME: tmpdir(),
          PYTHONPATH: trainer.pythonPath,
          PYTHONUNBUFFERED: '1',
          OMP_NUM_THREADS: '1',
          HF_HUB_OFFLINE: '1',
          UNDERSTUDY_S3_ENDPOINT: `http://${s3.endPoint}:${String(s3.port)}`,
          UNDERSTUDY_S3_REGION: s3.region,
          UNDERSTUDY_S3_ACCESS_KEY: s3.accessKey,
          UNDERSTUDY_S3_SECRET_KEY: s3.secretKey,
        },
      },
    );
  } finally {
    await log.close();
  }
  const exited = once(child, 'exit').then(([code, signal]) => String(signal ?? code));
  const baseUrl = `http://127.0.0.1:${String(options.port)}/v1`;
  const stop = async () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    process.kill(-child.pid, 'SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), sleep(10_000, false)]);
    if (!stopped) process.kill(-child.pid, 'SIGKILL');
    await exited;
  };
  const ready = await Promise.race([
    healthy(`http://127.0.0.1:${String(options.port)}/health`, 120_000),
    exited.then((how) => `exited (${how})`),
  ]);
  if (ready !== true) {
    await stop();
    const tail = (await readFile(options.logFile, 'utf8')).split('\n').slice(-20).join('\n');
    throw new Error(`the adapter server ${ready}; ${options.logFile} ends with:\n${tail}`);
  }
  return { baseUrl, stop };
}

/** Whether `url` answers 200 within `timeoutMs`, asking every 250 ms. */
async function healthy(url: string, timeoutMs: number): Promise<true | string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(url).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return true;
    await sleep(250);
  }
  return `did not answer ${url} within ${String(timeoutMs)} ms`;
}
