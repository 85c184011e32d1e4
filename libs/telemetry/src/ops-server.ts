import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { HealthRegistry } from './health.js';
import { silentLogger, type Logger } from './logger.js';

export interface OpsServerOptions {
  /** Bind address; all interfaces by default so the kubelet and Prometheus can reach it. */
  readonly host?: string;
  /** 9464 (Prometheus' registered exporter port) by default; 0 picks a free one. */
  readonly port?: number;
}

export interface OpsServerDependencies {
  readonly health: HealthRegistry;
  /** Writes the Prometheus text exposition (the exporter's request handler). */
  readonly metrics: RequestListener;
  readonly logger?: Logger;
}

export interface OpsServer {
  readonly host: string;
  readonly port: number;
  /** Base URL, e.g. `http://127.0.0.1:9464`. */
  readonly url: string;
  close(): Promise<void>;
}

function sendJson(response: ServerResponse, status: number, body: object): void {
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  response.end(JSON.stringify(body));
}

/**
 * The operations endpoints on their own port, apart from the service's API, so probes and
 * scrapes keep working when the API is saturated and are never exposed through its ingress.
 */
export async function startOpsServer(
  options: OpsServerOptions,
  { health, metrics, logger = silentLogger }: OpsServerDependencies,
): Promise<OpsServer> {
  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      sendJson(response, 405, { error: 'method not allowed' });
      return;
    }
    const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
    switch (path) {
      case '/metrics':
        metrics(request, response);
        return;
      case '/healthz':
        if (health.shuttingDown) sendJson(response, 503, { status: 'shutting_down' });
        else sendJson(response, 200, { status: 'ok' });
        return;
      case '/readyz': {
        const report = await health.readiness();
        const status = report.ready ? 'ready' : report.shuttingDown ? 'shutting_down' : 'not_ready';
        sendJson(response, report.ready ? 200 : 503, { status, checks: report.checks });
        return;
      }
      default:
        sendJson(response, 404, { error: 'not found' });
    }
  };

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      logger.error({ err: error, path: request.url }, 'ops request failed');
      if (!response.headersSent) sendJson(response, 500, { error: 'internal error' });
      else response.destroy();
    });
  });

  const host = options.host ?? '0.0.0.0';
  const port = options.port ?? 9464;
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error): void => {
      reject(
        new UnderstudyError(
          ErrorCode.FailedPrecondition,
          `ops server cannot listen on ${host}:${port}`,
          {
            cause: error,
            details: { host, port },
          },
        ),
      );
    };
    server.once('error', failed);
    server.listen({ host, port }, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  logger.info({ host, port: bound }, 'ops server listening');

  let closing: Promise<void> | undefined;
  return {
    host,
    port: bound,
    url: `http://${urlHost}:${bound}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        // Prometheus keeps its scrape connection alive; close it instead of waiting for it.
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
