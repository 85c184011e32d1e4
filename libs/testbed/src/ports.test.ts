import { createServer } from 'node:net';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { LOOPBACK, isPortOpen, withFreePorts } from './ports.js';

function portInUse(): UnderstudyError {
  return new UnderstudyError(ErrorCode.Unavailable, 'taken', { details: { portInUse: true } });
}

describe('withFreePorts', () => {
  it('hands out distinct loopback ports that can be bound', async () => {
    const ports = await withFreePorts(['a', 'b', 'c'], (p) => Promise.resolve(p));
    expect(new Set(Object.values(ports)).size).toBe(3);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(ports.a, LOOPBACK, resolve));
    expect(await isPortOpen(ports.a)).toBe(true);
    await new Promise((resolve) => server.close(resolve));
    expect(await isPortOpen(ports.a)).toBe(false);
  });

  it('tries new ports when the server found its port taken', async () => {
    const seen: number[] = [];
    const port = await withFreePorts(['only'], ({ only }) => {
      seen.push(only);
      return seen.length < 3 ? Promise.reject(portInUse()) : Promise.resolve(only);
    });
    expect(seen).toHaveLength(3);
    expect(port).toBe(seen[2]);
  });

  it('gives up after the last attempt and does not retry other failures', async () => {
    await expect(withFreePorts(['p'], () => Promise.reject(portInUse()))).rejects.toThrow('taken');
    let calls = 0;
    const other = new UnderstudyError(ErrorCode.Unavailable, 'crashed');
    await expect(
      withFreePorts(['p'], () => {
        calls++;
        return Promise.reject(other);
      }),
    ).rejects.toBe(other);
    expect(calls).toBe(1);
  });
});
