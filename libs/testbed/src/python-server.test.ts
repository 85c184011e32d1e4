import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { groupMembers, isGroupAlive } from './leftovers.js';
import { startPythonServer } from './python-server.js';

/** Python's own http.server stands in for a model server; the machine's python3 runs it. */
describe('startPythonServer', () => {
  it('serves on a free loopback port under the watchdog, named by its folder, until stopped', async () => {
    const server = await startPythonServer({
      name: 'http-server',
      python: 'python3',
      module: 'http.server',
      args: (port) => ['--bind', '127.0.0.1', String(port)],
      readyPath: '/',
    });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(server.url)).ok).toBe(true);
      const members = await groupMembers(server.processGroup);
      // The server itself, not only its watchdog, names its folder.
      const python = members.find(({ cmdline }) => !cmdline.startsWith('bash '));
      expect(python?.cmdline).toContain(
        `python3 -X understudy-testbed=${dirname(server.logFile)}/ -m http.server `,
      );
      expect(await readFile(server.logFile, 'utf8')).toContain('"GET / HTTP/1.1" 200');
    } finally {
      await server.stop();
    }
    expect(await isGroupAlive(server.processGroup)).toBe(false);
  });

  it('quotes its log when it ends before it serves', async () => {
    const failure = startPythonServer({
      name: 'http-server',
      python: 'python3',
      module: 'no_such_module',
      args: () => [],
      readyPath: '/',
    });
    await expect(failure).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    await expect(failure).rejects.toThrow(
      /http-server exited \(exit code 1\) before it was ready; log .*\/http-server(-\d+)?\/http-server\.log, last lines:\n.*No module named no_such_module$/,
    );
  });
});
