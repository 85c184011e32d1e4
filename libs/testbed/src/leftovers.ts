import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';

/**
 * The second line of defence against orphaned servers (the first is the watchdog, see
 * server-process.ts): each running server leaves `watchdog.json` in its folder, naming its process
 * group and the process that owns it. A later run kills groups whose owner has died.
 */
const REGISTRATION = 'watchdog.json';
const PRUNE_AFTER_MS = 3 * 24 * 3600 * 1000;

interface ProcessIdentity {
  readonly pid: number;
  /** Clock ticks after boot when the process started: tells a pid from a later reuse of it. */
  readonly startTime: string;
}

interface Registration {
  readonly processGroup: number;
  readonly owner: ProcessIdentity;
}

/** The fields of /proc/<pid>/stat after the command name, which may hold spaces and brackets. */
async function statFields(pid: number): Promise<string[] | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

// Indexes into statFields: fields 3 (state), 5 (pgrp) and 22 (starttime) of proc_pid_stat(5).
const STATE = 0;
const PGRP = 2;
const START_TIME = 19;

async function identityOf(pid: number): Promise<ProcessIdentity | undefined> {
  const startTime = (await statFields(pid))?.[START_TIME];
  return startTime === undefined ? undefined : { pid, startTime };
}

async function isAlive(owner: ProcessIdentity): Promise<boolean> {
  return (await identityOf(owner.pid))?.startTime === owner.startTime;
}

/** Signals a whole process group; one that is already gone is fine. */
export function killGroup(processGroup: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-processGroup, signal);
  } catch {
    // ESRCH: nothing left to kill.
  }
}

/** The live processes of a group, with their command lines. */
export async function groupMembers(
  processGroup: number,
): Promise<{ pid: number; cmdline: string }[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const members = await Promise.all(
    pids.map(async (pid) => {
      const fields = await statFields(pid);
      // A zombie has exited and holds nothing; it waits for its reaper, which may be slow.
      if (fields?.[PGRP] !== String(processGroup) || fields[STATE] === 'Z') return [];
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      return [{ pid, cmdline: cmdline.replaceAll('\0', ' ').trim() }];
    }),
  );
  return members.flat();
}

export async function isGroupAlive(processGroup: number): Promise<boolean> {
  try {
    process.kill(-processGroup, 0);
  } catch {
    return false;
  }
  return (await groupMembers(processGroup)).length > 0;
}

export async function register(dir: string, processGroup: number): Promise<void> {
  const owner = await identityOf(process.pid);
  if (owner === undefined) return; // no /proc: nothing could verify the owner later either
  const registration: Registration = { processGroup, owner };
  await writeFile(join(dir, REGISTRATION), JSON.stringify(registration));
}

export async function unregister(dir: string): Promise<void> {
  await rm(join(dir, REGISTRATION), { force: true });
}

function isRegistration(value: unknown): value is Registration {
  if (typeof value !== 'object' || value === null) return false;
  const { processGroup, owner } = value as Partial<Record<keyof Registration, unknown>>;
  if (typeof processGroup !== 'number' || typeof owner !== 'object' || owner === null) return false;
  const { pid, startTime } = owner as Partial<Record<keyof ProcessIdentity, unknown>>;
  return typeof pid === 'number' && typeof startTime === 'string';
}

async function readRegistration(dir: string): Promise<Registration | undefined> {
  try {
    const value: unknown = JSON.parse(await readFile(join(dir, REGISTRATION), 'utf8'));
    return isRegistration(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

async function subfolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isDirectory()).map((entry) => join(dir, entry.name));
}

/**
 * Kills the servers of runs whose owner died without the watchdog stopping them, then deletes
 * run folders older than three days that hold no running server. A group is only killed if one
 * of its processes still names the server's folder, so a recycled group id is left alone; runs
 * of live processes (parallel test runs in the same checkout) are never touched.
 */
export async function sweepLeftovers(stateRoot: string): Promise<number> {
  let killed = 0;
  for (const run of await subfolders(stateRoot)) {
    let live = false;
    for (const dir of await subfolders(run)) {
      const registration = await readRegistration(dir);
      if (registration === undefined) continue;
      if (await isAlive(registration.owner)) {
        live = true;
        continue;
      }
      const members = await groupMembers(registration.processGroup);
      if (members.some((member) => member.cmdline.includes(`${dir}${sep}`))) {
        killGroup(registration.processGroup, 'SIGKILL');
        killed++;
      }
      await unregister(dir);
    }
    const { mtimeMs } = await stat(run);
    if (!live && Date.now() - mtimeMs > PRUNE_AFTER_MS) {
      await rm(run, { recursive: true, force: true });
    }
  }
  return killed;
}
