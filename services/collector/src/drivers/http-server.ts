import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { Logger } from '@understudy/telemetry';

export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

export interface HttpListener {
  readonly port: number;
  /** Stops accepting, lets requests in flight finish for `graceMs`, then cuts the rest. */
  close(graceMs: number): Promise<void>;
}

/** A node:http server for one request handler; a handler that throws gets a bare 500. */
export async function listen(
  host: string,
  port: number,
  handler: RequestHandler,
  logger: Logger,
): Promise<HttpListener> {
  const server = createServer((request, response) => {
    handler(request, response).catch((error: unknown) => {
      logger.error({ err: error, path: request.url }, 'request failed');
      if (response.headersSent) response.destroy();
      else response.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => {
      reject(
        new UnderstudyError(ErrorCode.Unavailable, `cannot listen on ${host}:${port}`, {
          cause: error,
        }),
      );
    });
    server.listen(port, host, resolve);
  });
  const { port: bound } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    port: bound,
    close: (graceMs) => {
      closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.closeAllConnections();
        }, graceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
