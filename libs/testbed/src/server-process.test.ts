import { access, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnderstudyError } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { isGroupAlive } from './leftovers.js';
import { ServerProcess, type LaunchOptions } from './server-process.js';

/** A stand-in server: a Node script that logs `ready` (or whatever `script` does). */
async function options(script: string, overrides: Partial<LaunchOptions> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'testbed-'));
  return {
    name: 'fake',
    dir,
    command: process.execPath,
    args: ['-e', script],
    env: { PATH: process.env['PATH'] },
    logFile: join(dir, 'fake.log'),
    stopSignal: 'SIGTERM',
    isReady: (log: string) => log.includes('ready'),
    timeoutMs: 10_000,
    ...overrides,
  } satisfies LaunchOptions;
}

const SERVES = "console.log('ready'); setInterval(() => {}, 1000);";

async function failureOf(promise: Promise<unknown>): Promise<UnderstudyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof UnderstudyError))
    throw new Error(`expected a failure, got ${String(error)}`);
  return error;
}

describe('ServerProcess', () => {
  it('waits for readiness, registers, and stops the whole process group', async () => {
    const opts = await options(SERVES);
    const server = await ServerProcess.launch(opts);
    expect(await isGroupAlive(server.processGroup)).toBe(true);
    await access(join(opts.dir, 'watchdog.json'));
    await server.stop();
    expect(await isGroupAlive(server.processGroup)).toBe(false);
    await expect(access(join(opts.dir, 'watchdog.json'))).rejects.toThrow();
    await server.stop();
  });

  it('names the log and quotes it when the server exits before it is ready', async () => {
    const opts = await options(
      "console.error('listen EADDRINUSE: address already in use'); process.exit(4)",
    );
    const error = await failureOf(ServerProcess.launch(opts));
    expect(error.message).toContain(
      `fake exited (exit code 4) before it was ready; log ${opts.logFile}`,
    );
    expect(error.message).toMatch(/last lines:\nlisten EADDRINUSE: address already in use$/);
    expect(error.details).toMatchObject({ logFile: opts.logFile, portInUse: true });
  });

  it('gives up after the timeout and leaves nothing running', async () => {
    const opts = await options("console.log('starting'); setInterval(() => {}, 1000);", {
      timeoutMs: 500,
    });
    const error = await failureOf(ServerProcess.launch(opts));
    expect(error.message).toMatch(/^fake was not ready after 0.5s; log .*\nstarting$/);
    expect(error.details['portInUse']).toBe(false);
  });

  it('kills a server that ignores the stop signal after the grace period', async () => {
    const opts = await options(`process.on('SIGTERM', () => {}); ${SERVES}`, { graceSeconds: 1 });
    const server = await ServerProcess.launch(opts);
    const started = Date.now();
    await server.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(await isGroupAlive(server.processGroup)).toBe(false);
  });

  it('appends to the log across launches and reads readiness only from the new part', async () => {
    const opts = await options(SERVES);
    await (await ServerProcess.launch(opts)).stop();
    const second = await failureOf(
      ServerProcess.launch({
        ...opts,
        args: ['-e', 'setInterval(() => {}, 1000)'],
        timeoutMs: 300,
      }),
    );
    expect(second.message).toContain('was not ready');
  });
});
