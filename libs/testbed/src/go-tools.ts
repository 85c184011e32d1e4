import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exists, produce, seconds, type Progress } from './artifacts.js';
import { cacheRoot } from './paths.js';
import { requireTool, runTool } from './tools.js';

export interface GoProgram {
  /** Binary name, as `go install` names it. */
  readonly name: string;
  /** Package path without version, e.g. `github.com/fullstorydev/grpcurl/cmd/grpcurl`. */
  readonly module: string;
  readonly version: string;
  /** Folder below the cache root that holds the binary. */
  readonly cacheDir: string;
  /** How long a cold build takes here, for the progress line. */
  readonly buildTime: string;
}

/** A Go program from the module proxy, built once with `go install` and cached by version. */
export async function goBinary(program: GoProgram, progress?: Progress): Promise<string> {
  const binary = join(cacheRoot(), program.cacheDir, program.name);
  if (await exists(binary)) return binary;
  const go = await requireTool(
    'go',
    `install Go 1.24 or newer (https://go.dev/dl) to build ${program.name}`,
  );
  const started = Date.now();
  progress?.(`${program.name} ${program.version}: building with Go (${program.buildTime})`);
  await produce(binary, async (staging) => {
    await runTool(go, ['install', '-v', `${program.module}@${program.version}`], {
      env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-trimpath', GOBIN: staging },
      echo: progress !== undefined,
    });
    return join(staging, program.name);
  });
  progress?.(`${program.name} ${program.version}: built in ${seconds(started)}`);
  return binary;
}

export const GRPCURL_VERSION = 'v1.9.3';

/** grpcurl, the real gRPC client integration tests drive servers with (via reflection). */
export function grpcurlBinary(progress?: Progress): Promise<string> {
  return goBinary(
    {
      name: 'grpcurl',
      module: 'github.com/fullstorydev/grpcurl/cmd/grpcurl',
      version: GRPCURL_VERSION,
      cacheDir: join('tools', `grpcurl-${GRPCURL_VERSION}`),
      buildTime: 'about half a minute on 2 cores',
    },
    progress,
  );
}

export const GHZ_VERSION = 'v0.121.0';

/**
 * ghz, the gRPC load tool the benchmarks drive servers with (via reflection). Built on first use
 * only: no test needs it, so the test bed's prepare step leaves it out.
 */
export function ghzBinary(progress?: Progress): Promise<string> {
  return goBinary(
    {
      name: 'ghz',
      module: 'github.com/bojand/ghz/cmd/ghz',
      version: GHZ_VERSION,
      cacheDir: join('tools', `ghz-${GHZ_VERSION}`),
      buildTime: 'about a minute on 2 cores',
    },
    progress,
  );
}

export const HELM_VERSION = 'v3.21.4';

/** helm, which renders and lints the chart in helm/ for the manifest validation tests. */
export function helmBinary(progress?: Progress): Promise<string> {
  return goBinary(
    {
      name: 'helm',
      module: 'helm.sh/helm/v3/cmd/helm',
      version: HELM_VERSION,
      cacheDir: join('tools', `helm-${HELM_VERSION}`),
      buildTime: 'about 4 minutes on 2 cores',
    },
    progress,
  );
}

export interface GrpcurlResult {
  /** grpcurl's exit status: 0, or 64 + the gRPC status code when the call failed. */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

const execFileAsync = promisify(execFile);

/**
 * Runs `grpcurl -plaintext <flags> <target> <command…>` (the binary built on first use) and
 * resolves whatever its exit status, so that tests can assert a failed call's status; only a
 * grpcurl that cannot run, or runs past 15 s, rejects.
 */
export async function grpcurl(
  target: string,
  flags: readonly string[],
  ...command: string[]
): Promise<GrpcurlResult> {
  const binary = await grpcurlBinary();
  try {
    const { stdout, stderr } = await execFileAsync(
      binary,
      ['-plaintext', ...flags, target, ...command],
      { timeout: 15_000 },
    );
    return { exitCode: 0, stdout, stderr };
  } catch (error: unknown) {
    const { code, stdout, stderr } = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof code !== 'number') throw error;
    return { exitCode: code, stdout: stdout ?? '', stderr: stderr ?? '' };
  }
}
