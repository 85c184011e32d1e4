import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { isGroupAlive, killGroup, register, sweepLeftovers } from './leftovers.js';

const groups: number[] = [];

afterEach(() => {
  for (const group of groups.splice(0)) killGroup(group, 'SIGKILL');
});

/** A process group, like a watchdog's, whose command line names `marker`. */
function fakeServer(marker: string): number {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', marker], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  if (child.pid === undefined) throw new Error('no pid');
  groups.push(child.pid);
  return child.pid;
}

async function serverFolder(): Promise<{ stateRoot: string; dir: string }> {
  const stateRoot = await mkdtemp(join(tmpdir(), 'testbed-state-'));
  const dir = join(stateRoot, 'run-1', 'kafka');
  await mkdir(dir, { recursive: true });
  return { stateRoot, dir };
}

/** A registration whose owner is gone: a pid with a start time no process has. */
async function registerDeadOwner(dir: string, processGroup: number): Promise<void> {
  const owner = { pid: process.pid, startTime: 'gone' };
  await writeFile(join(dir, 'watchdog.json'), JSON.stringify({ processGroup, owner }));
}

async function waitUntilGone(group: number): Promise<boolean> {
  for (let i = 0; i < 50 && (await isGroupAlive(group)); i++) await delay(100);
  return !(await isGroupAlive(group));
}

describe('sweepLeftovers', () => {
  it('kills the servers of a dead owner and forgets them', async () => {
    const { stateRoot, dir } = await serverFolder();
    const group = fakeServer(join(dir, 'server.properties'));
    await registerDeadOwner(dir, group);
    expect(await sweepLeftovers(stateRoot)).toBe(1);
    expect(await waitUntilGone(group)).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });

  it('leaves the servers of a live owner alone', async () => {
    const { stateRoot, dir } = await serverFolder();
    const group = fakeServer(join(dir, 'server.properties'));
    await register(dir, group);
    expect(await sweepLeftovers(stateRoot)).toBe(0);
    expect(await isGroupAlive(group)).toBe(true);
    expect(await readdir(dir)).toEqual(['watchdog.json']);
  });

  it('leaves a process group alone that does not name the server folder', async () => {
    const { stateRoot, dir } = await serverFolder();
    const group = fakeServer('/somewhere/else');
    await registerDeadOwner(dir, group);
    expect(await sweepLeftovers(stateRoot)).toBe(0);
    expect(await isGroupAlive(group)).toBe(true);
  });

  it('deletes run folders older than three days without running servers', async () => {
    const { stateRoot } = await serverFolder();
    await mkdir(join(stateRoot, 'run-2'));
    const old = new Date(Date.now() - 4 * 24 * 3600 * 1000);
    await utimes(join(stateRoot, 'run-1'), old, old);
    await sweepLeftovers(stateRoot);
    expect(await readdir(stateRoot)).toEqual(['run-2']);
  });
});
