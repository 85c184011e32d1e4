import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Progress } from './artifacts.js';
import type { S3Endpoint } from './endpoints.js';
import { goBinary } from './go-tools.js';
import { serverDir } from './paths.js';
import { LOOPBACK, withFreePorts } from './ports.js';
import { launchRestartable, ServerProcess, type RestartableServer } from './server-process.js';

/**
 * MinIO ships as source only. The Go module proxy refuses its last release tag
 * (RELEASE.2025-10-15T17-29-55Z, not a semantic version); this pseudo-version is the newest
 * commit it serves.
 */
export const MINIO_VERSION = 'v0.0.0-20260212201848-7aac2a2c5b7c';

const REGION = 'us-east-1';

export interface MinioServer extends RestartableServer {
  readonly endpoint: S3Endpoint;
  readonly logFile: string;
}

/** The MinIO binary in the cache, built from source with Go on first use (minutes). */
export function minioBinary(progress?: Progress): Promise<string> {
  return goBinary(
    {
      name: 'minio',
      module: 'github.com/minio/minio',
      version: MINIO_VERSION,
      cacheDir: join('minio', MINIO_VERSION),
      buildTime: 'about 2 minutes on 2 cores',
    },
    progress,
  );
}

async function isHealthy(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://${LOOPBACK}:${String(port)}/minio/health/ready`, {
      signal: AbortSignal.timeout(2000),
    });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** Starts a single-drive MinIO server on loopback with random root credentials. */
export async function startMinio(options: { name?: string } = {}): Promise<MinioServer> {
  const binary = await minioBinary();
  const name = options.name ?? 'minio';
  const dir = await serverDir(name);
  const dataDir = join(dir, 'data');
  const logFile = join(dir, `${name}.log`);
  const accessKey = `testbed-${randomBytes(4).toString('hex')}`;
  const secretKey = randomBytes(24).toString('base64url');
  const env = {
    PATH: process.env['PATH'],
    HOME: dir,
    LANG: 'C.UTF-8',
    // Passed by environment, never on the command line; MinIO prints them only to a terminal.
    MINIO_ROOT_USER: accessKey,
    MINIO_ROOT_PASSWORD: secretKey,
    MINIO_SITE_REGION: REGION,
    // No update checks or call-home; CI mode caps MinIO's buffer pool at 256 MiB.
    MINIO_UPDATE: 'off',
    MINIO_CALLHOME_ENABLE: 'off',
    MINIO_CI_CD: 'on',
  };

  return withFreePorts(['api', 'webui'], async ({ api, webui }) => {
    const launch = (): Promise<ServerProcess> =>
      ServerProcess.launch({
        name,
        dir,
        command: binary,
        args: [
          'server',
          dataDir,
          '--address',
          `${LOOPBACK}:${String(api)}`,
          '--console-address',
          `${LOOPBACK}:${String(webui)}`,
          '--certs-dir',
          join(dir, 'certs'),
        ],
        env,
        logFile,
        stopSignal: 'SIGTERM',
        isReady: () => isHealthy(api),
        timeoutMs: 60_000,
      });
    const server = await launchRestartable(launch, dataDir);
    return Object.assign(server, {
      endpoint: {
        endPoint: LOOPBACK,
        port: api,
        useSSL: false as const,
        accessKey,
        secretKey,
        region: REGION,
      },
      logFile,
    });
  });
}
