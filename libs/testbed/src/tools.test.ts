import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { requireTool, runTool } from './tools.js';

describe('requireTool', () => {
  it('finds a command on PATH', async () => {
    expect(await requireTool('bash', 'install bash')).toMatch(/\/bash$/);
  });

  it('says what to install when the command is missing', async () => {
    const error = await requireTool('no-such-tool-xyz', 'apt-get install xyz').catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UnderstudyError);
    expect(error).toMatchObject({ code: ErrorCode.FailedPrecondition });
    expect((error as Error).message).toBe(
      'no-such-tool-xyz is not installed (not found on PATH); apt-get install xyz',
    );
  });
});

describe('runTool', () => {
  it('returns the output and appends it to the log', async () => {
    const logFile = join(await mkdtemp(join(tmpdir(), 'testbed-')), 'tool.log');
    expect(await runTool('bash', ['-c', 'echo out; echo err >&2'], { logFile })).toBe('out\nerr\n');
    expect(await readFile(logFile, 'utf8')).toBe('out\nerr\n');
  });

  it('quotes the end of the output when the tool fails', async () => {
    const failing = runTool('bash', ['-c', 'for i in $(seq 40); do echo line $i; done; exit 3']);
    await expect(failing).rejects.toThrow(/failed: exit 3\n(line \d+\n){29}line 40$/);
  });
});
