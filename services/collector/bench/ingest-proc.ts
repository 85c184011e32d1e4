/**
 * CPU time and memory of the processes on this machine, from /proc (Linux): what each part of
 * the bench (collector, Kafka, MinIO, load clients) used, and what everything else did.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

interface Stat {
  readonly processGroup: number;
  /** User and system CPU seconds. */
  readonly cpuSeconds: number;
}

function stat(pid: number | string): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  } catch {
    return undefined; // gone
  }
  // The command name may hold spaces and parentheses; the fields after it do not.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    processGroup: Number(fields[2]),
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / ticksPerSecond,
  };
}

/** CPU seconds of one process so far (0 once it is gone). */
export function processCpuSeconds(pid: number): number {
  return stat(pid)?.cpuSeconds ?? 0;
}

/** CPU seconds of every live process in a process group (a test bed server and its children). */
export function groupCpuSeconds(processGroup: number): number {
  let seconds = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const found = stat(entry);
    if (found?.processGroup === processGroup) seconds += found.cpuSeconds;
  }
  return seconds;
}

/** CPU seconds all cores spent busy (not idle, not waiting for I/O) since boot. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, ...values] = line.trim().split(/\s+/);
  const ticks = values.map(Number);
  const total = ticks.slice(0, 8).reduce((sum, value) => sum + value, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return (total - idle) / ticksPerSecond;
}

/** Resident set size of a process in bytes, or undefined once it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

/** Named CPU counters read together, so that their differences cover the same interval. */
export class CpuMeter<Name extends string> {
  private readonly readers: Readonly<Record<Name, () => number>>;

  constructor(readers: Readonly<Record<Name, () => number>>) {
    this.readers = readers;
  }

  read(): { readonly at: number; readonly seconds: Record<Name, number> } {
    const seconds = {} as Record<Name, number>;
    for (const name of Object.keys(this.readers) as Name[]) seconds[name] = this.readers[name]();
    return { at: performance.now(), seconds };
  }

  /** Cores used by each between two readings. */
  static cores<N extends string>(
    from: ReturnType<CpuMeter<N>['read']>,
    to: ReturnType<CpuMeter<N>['read']>,
  ): Record<N, number> {
    const elapsed = (to.at - from.at) / 1000;
    const cores = {} as Record<N, number>;
    for (const name of Object.keys(to.seconds) as N[]) {
      cores[name] = (to.seconds[name] - from.seconds[name]) / elapsed;
    }
    return cores;
  }
}
