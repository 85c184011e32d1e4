import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { groupMembers, isGroupAlive, killGroup, sweepLeftovers } from './leftovers.js';
import { stateRoot } from './paths.js';

const CLI = fileURLToPath(new URL('cli.ts', import.meta.url));

/** Starts a server from another Node process (the CLI) and returns that process and the group. */
async function startInChild(server: string) {
  const child = spawn(process.execPath, [CLI, 'start', server], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const [line] = await Promise.race([
    (async () => {
      for await (const first of lines) return [first];
      return [];
    })(),
    delay(90_000).then(() => []),
  ]);
  lines.close();
  if (line === undefined) throw new Error(`cli.ts start ${server} printed nothing`);
  const { processGroup } = JSON.parse(line) as { processGroup: number };
  return { child, processGroup };
}

async function goneWithin(processGroup: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (await isGroupAlive(processGroup)) {
    if (Date.now() > deadline) return false;
    await delay(100);
  }
  return true;
}

describe('no orphaned servers', () => {
  it.each(['kafka', 'minio', 'postgres'])(
    '%s dies with the process that started it, even on SIGKILL',
    async (server) => {
      const { child, processGroup } = await startInChild(server);
      try {
        expect(await isGroupAlive(processGroup)).toBe(true);
        child.kill('SIGKILL');
        expect(await goneWithin(processGroup, 15_000)).toBe(true);
      } finally {
        child.kill('SIGKILL');
        killGroup(processGroup, 'SIGKILL');
      }
    },
  );

  it('the next run kills a server whose owner and watchdog were both killed', async () => {
    const { child, processGroup } = await startInChild('minio');
    try {
      const members = await groupMembers(processGroup);
      const minio = members.filter((member) => /^\S+\/minio server /.test(member.cmdline));
      expect(minio).toHaveLength(1);
      // Kill everything but the server itself, then its owner: nothing is left to stop it.
      for (const member of members)
        if (!minio.includes(member)) process.kill(member.pid, 'SIGKILL');
      child.kill('SIGKILL');
      await delay(1000);
      expect(await isGroupAlive(processGroup)).toBe(true);
      expect(await sweepLeftovers(stateRoot)).toBeGreaterThanOrEqual(1);
      expect(await goneWithin(processGroup, 5_000)).toBe(true);
    } finally {
      child.kill('SIGKILL');
      killGroup(processGroup, 'SIGKILL');
    }
  });
});
