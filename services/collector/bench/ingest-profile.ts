/**
 * Where the collector's CPU time goes, from a V8 CPU profile (`node --cpu-prof`): self time by
 * function and by area (collector folder, library, npm package, Node, GC), and time by the
 * nearest frame of the project's own code on the stack, which charges the npm code a module calls
 * (protobuf, kafkajs, zlib) to that module. Bundle positions are mapped back to the sources.
 */
import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly startTime: number;
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface Share {
  readonly name: string;
  readonly ms: number;
  /** Of the time the collector was busy (not idle). */
  readonly percent: number;
}

export interface ProfileSummary {
  readonly busyMs: number;
  readonly idleMs: number;
  readonly byArea: Share[];
  readonly topFunctions: Share[];
  /** Each sample charged to the innermost frame of services/ or libs/ code on its stack. */
  readonly byOwnCode: Share[];
  /** Functions of services/ or libs/ by the time they were on the stack (total time). */
  readonly ownFunctionsTotal: Share[];
}

interface Frame {
  /** `function (file:line)` in the sources. */
  readonly name: string;
  readonly area: string;
  /** The repository file for the project's own code, undefined for anything else. */
  readonly ownFile: string | undefined;
}

const special = new Set(['(garbage collector)', '(program)', '(idle)', '(root)']);

function areaOf(file: string): string {
  const collector = /^services\/collector\/src\/(?:(.+)\/)?[^/]+$/.exec(file);
  if (collector) return `collector ${collector[1] ?? '(top)'}`;
  const library = /^libs\/([^/]+)\//.exec(file);
  if (library) return `lib ${library[1] ?? ''}`;
  const npm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
  if (npm) return `npm ${npm[1] ?? ''}`;
  return file;
}

class Frames {
  private readonly maps = new Map<string, { map: SourceMap; dir: string } | null>();

  describe({ functionName, url, lineNumber, columnNumber }: CallFrame): Frame {
    const name = functionName || '(anonymous)';
    if (special.has(name)) return { name, area: name, ownFile: undefined };
    if (url === '') return { name: `${name} (native)`, area: 'V8 built-ins', ownFile: undefined };
    if (url.startsWith('node:'))
      return { name: `${name} (${url})`, area: 'Node', ownFile: undefined };
    let file = url.startsWith('file://') ? fileURLToPath(url) : url;
    let line = lineNumber + 1;
    const mapped = this.sourceMap(file);
    if (mapped !== null) {
      const entry = mapped.map.findEntry(lineNumber, columnNumber);
      if ('originalSource' in entry) {
        file = resolve(mapped.dir, entry.originalSource);
        line = entry.originalLine + 1;
      }
    }
    const path = relative(repoRoot, file);
    const own = /^(?:services|libs)\/[^/]+\/src\//.test(path) ? path : undefined;
    return { name: `${name} (${path}:${String(line)})`, area: areaOf(path), ownFile: own };
  }

  private sourceMap(file: string): { map: SourceMap; dir: string } | null {
    let found = this.maps.get(file);
    if (found === undefined) {
      try {
        const payload = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as SourceMapPayload;
        found = { map: new SourceMap(payload), dir: dirname(file) };
      } catch {
        found = null; // no map beside it: not the bundle
      }
      this.maps.set(file, found);
    }
    return found;
  }
}

function shares(totals: Map<string, number>, busyMs: number, limit: number): Share[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, ms]) => ({ name, ms, percent: (100 * ms) / busyMs }));
}

const add = (totals: Map<string, number>, key: string, ms: number) =>
  totals.set(key, (totals.get(key) ?? 0) + ms);

/**
 * Summarises the samples taken within `window` (µs on the monotonic clock, as the profile's
 * own timestamps and `process.hrtime` are), or all of them.
 */
export function summariseProfile(
  path: string,
  window?: { readonly fromUs: number; readonly toUs: number },
  limit = 15,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const frames = new Frames();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const described = new Map<number, Frame>();
  const frame = (id: number): Frame | undefined => {
    let found = described.get(id);
    const node = byId.get(id);
    if (found === undefined && node !== undefined) {
      found = frames.describe(node.callFrame);
      described.set(id, found);
    }
    return found;
  };

  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const byOwnCode = new Map<string, number>();
  const ownTotal = new Map<string, number>();
  let busyMs = 0;
  let idleMs = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (window !== undefined && (at < window.fromUs || at > window.toUs)) return;
    // A sample's delta is the time until the next one.
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const leaf = frame(id);
    if (leaf === undefined) return;
    if (leaf.area === '(idle)') {
      idleMs += ms;
      return;
    }
    busyMs += ms;
    add(byArea, leaf.area, ms);
    add(byFunction, leaf.name, ms);
    let owner: string | undefined;
    const onStack = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parent.get(node)) {
      const each = frame(node);
      if (each?.ownFile === undefined) continue;
      owner ??= each.ownFile;
      onStack.add(each.name);
    }
    add(byOwnCode, owner ?? `(no project code on the stack) ${leaf.area}`, ms);
    for (const name of onStack) add(ownTotal, name, ms);
  });
  return {
    busyMs,
    idleMs,
    byArea: shares(byArea, busyMs, limit),
    topFunctions: shares(byFunction, busyMs, limit),
    byOwnCode: shares(byOwnCode, busyMs, limit),
    ownFunctionsTotal: shares(ownTotal, busyMs, limit),
  };
}
