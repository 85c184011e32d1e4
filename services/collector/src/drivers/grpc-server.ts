import {
  Server,
  ServerCredentials,
  type ServerOptions,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { Logger } from '@understudy/telemetry';

/** A service as grpc-js takes it. */
export interface GrpcServiceHandlers {
  readonly definition: ServiceDefinition;
  readonly implementation: UntypedServiceImplementation;
}

export interface GrpcListener {
  readonly port: number;
  /** Stops accepting, lets calls in flight finish for `graceMs`, then cancels the rest. */
  close(graceMs: number): Promise<void>;
}

/**
 * A plaintext grpc-js server for handlers that grpc-js must call with raw bytes, which
 * `GrpcServer` of @understudy/grpc cannot register (it decodes every request itself).
 */
export async function listenGrpc(
  host: string,
  port: number,
  services: readonly GrpcServiceHandlers[],
  options: ServerOptions,
  logger: Logger,
): Promise<GrpcListener> {
  const server = new Server(options);
  for (const { definition, implementation } of services) {
    server.addService(definition, implementation);
  }
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (error, boundPort) => {
      if (error) {
        reject(
          new UnderstudyError(ErrorCode.Unavailable, `cannot listen on ${address}`, {
            cause: error,
          }),
        );
      } else {
        resolve(boundPort);
      }
    });
  });

  let closing: Promise<void> | undefined;
  return {
    port: bound,
    close: (graceMs) => {
      closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          logger.warn({ graceMs }, 'gRPC calls still running at shutdown; cancelling them');
          server.forceShutdown();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return closing;
    },
  };
}
