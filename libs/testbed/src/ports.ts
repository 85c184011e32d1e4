import { connect, createServer, type Server } from 'node:net';
import { ErrorCode, UnderstudyError } from '@understudy/errors';

export const LOOPBACK = '127.0.0.1';

async function listenOnAnyPort(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, resolve);
  });
  return server;
}

/** Ports the kernel just handed out on loopback, all distinct because they are held together. */
async function freePorts<K extends string>(names: readonly K[]): Promise<Record<K, number>> {
  const servers = await Promise.all(names.map(() => listenOnAnyPort()));
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string') {
      throw new UnderstudyError(ErrorCode.Internal, 'a loopback listener has no TCP address');
    }
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return Object.fromEntries(names.map((name, i) => [name, ports[i]])) as Record<K, number>;
}

/** A loopback port free right now, for a server that must be told its port before it binds. */
export async function freePort(): Promise<number> {
  const { port } = await freePorts(['port']);
  return port;
}

function isPortInUse(error: unknown): boolean {
  return error instanceof UnderstudyError && error.details['portInUse'] === true;
}

/**
 * Starts something on free loopback ports, named by `names`. Between releasing a probed port and
 * the server binding it another process may take it, so a start that fails with "address already
 * in use" (see ServerProcess) is retried on new ports.
 */
export async function withFreePorts<K extends string, T>(
  names: readonly K[],
  start: (ports: Readonly<Record<K, number>>) => Promise<T>,
  attempts = 3,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePorts(names));
    } catch (error) {
      if (attempt >= attempts || !isPortInUse(error)) throw error;
    }
  }
}

/** Whether something accepts TCP connections on the loopback port. */
export function isPortOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: LOOPBACK, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}
