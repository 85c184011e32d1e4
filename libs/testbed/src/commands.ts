import { once } from 'node:events';
import { UnderstudyError } from '@understudy/errors';
import { startKafka } from './kafka.js';
import { startMinio } from './minio.js';
import { startPostgres } from './postgres.js';
import { prepare } from './prepare.js';

const USAGE = `usage: cli.ts prepare          fetch and build what the servers, clients and tests'
                               Python venvs need into the cache
       cli.ts start <server>   run kafka, minio or postgres until interrupted; prints one JSON
                               line: endpoint (with its throwaway credentials), log, process group`;

const starters = { kafka: startKafka, minio: startMinio, postgres: startPostgres };

function isServerName(name: string | undefined): name is keyof typeof starters {
  return name !== undefined && Object.hasOwn(starters, name);
}

async function run(args: readonly string[]): Promise<number> {
  const [command, server] = args;
  if (command === 'prepare' && args.length === 1) {
    const artifacts = await prepare((message) => {
      console.log(`testbed: ${message}`);
    });
    for (const line of Object.values(artifacts)) console.log(`testbed: ready: ${line}`);
    return 0;
  }
  if (command === 'start' && isServerName(server) && args.length === 2) {
    const started = await starters[server]();
    const { endpoint, logFile, processGroup } = started;
    console.log(JSON.stringify({ server, endpoint, logFile, processGroup }));
    // Signal listeners do not keep Node alive; this timer does until one arrives.
    const keepAlive = setInterval(() => undefined, 60_000);
    await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
    clearInterval(keepAlive);
    await started.stop();
    return 0;
  }
  console.error(USAGE);
  return 2;
}

/** Runs the command line; expected failures print their message, not a stack trace. */
export async function main(args: readonly string[]): Promise<number> {
  try {
    return await run(args);
  } catch (error) {
    if (!(error instanceof UnderstudyError)) throw error;
    console.error(`testbed: ${error.message}`);
    return 1;
  }
}
