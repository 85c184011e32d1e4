import { createSecureContext } from 'node:tls';
import type { DescService } from '@bufbuild/protobuf';
import {
  Server,
  ServerCredentials,
  type ServerOptions,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { Health, reflectionV1, reflectionV1alpha } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { silentLogger, type Logger } from '@understudy/telemetry';
import { rawServiceDefinition, serviceDefinition } from './adapter.js';
import { grpcHandler, type Encoding } from './handlers.js';
import { HealthRegistry, overallService } from './health.js';
import { CallIntake, type Edge, type RetryDelay } from './intake.js';
import { ReflectionIndex, reflectionServices } from './reflection.js';
import type { Authenticate, Authorize, RawServiceImpl, ServiceImpl } from './service-impl.js';
import { RpcTelemetry } from './telemetry.js';

/** PEM files' contents a server serves TLS with. */
export interface GrpcTls {
  /** The certificate chain the server presents, and its private key. */
  readonly cert: Buffer;
  readonly key: Buffer;
  /**
   * CA certificates for mutual TLS: every caller must then present a certificate one of them
   * signed, which `authenticate` sees (grpc-js asks for client certificates only when it
   * requires them, so there is no optional mode).
   */
  readonly clientCa?: Buffer;
}

export interface GrpcServerOptions {
  /** Interface to listen on; all IPv4 interfaces by default. */
  readonly host?: string;
  /** 0 (the default) lets the system pick a free port; read it from `port` after `start()`. */
  readonly port?: number;
  readonly logger?: Logger;
  /**
   * Runs when a call to a registered service arrives, before its request is read; health and
   * reflection stay public.
   */
  readonly authenticate?: Authenticate;
  /**
   * Runs on each decoded request of a registered service, after `authenticate` and before the
   * handler; a server with it takes no raw services, whose requests it could not see.
   */
  readonly authorize?: Authorize;
  /** Serves TLS (and mutual TLS with `clientCa`) instead of plaintext. */
  readonly tls?: GrpcTls;
  /**
   * Seconds a caller should wait before retrying after a failure, sent as google.rpc.RetryInfo;
   * undefined (the default) where nothing is known.
   */
  readonly retryDelay?: RetryDelay;
  /** How long `shutdown()` lets calls in flight finish before cancelling them. */
  readonly shutdownTimeoutMs?: number;
  /** grpc-js server options, e.g. `grpc.max_receive_message_length`. */
  readonly grpcOptions?: ServerOptions;
}

const builtIn = [
  Health.typeName,
  reflectionV1.ServerReflection.typeName,
  reflectionV1alpha.ServerReflection.typeName,
];

interface Registration {
  readonly service: DescService;
  readonly impl: object;
  readonly public: boolean;
  readonly encoding: Encoding;
}

/**
 * A grpc-js server for protobuf-es services that always answers `grpc.health.v1.Health` and
 * server reflection (v1 and v1alpha). Register services, `start()`, and `shutdown()` on SIGTERM:
 * health turns NOT_SERVING, calls in flight get `shutdownTimeoutMs` to finish, the rest are
 * cancelled.
 */
export class GrpcServer {
  /** Per-service serving status; `''` is the server as a whole. */
  readonly health = new HealthRegistry();
  readonly #options: GrpcServerOptions;
  readonly #logger: Logger;
  readonly #server: Server;
  readonly #intake = new CallIntake();
  readonly #registrations: Registration[] = [];
  #state: 'new' | 'starting' | 'serving' | 'stopped' = 'new';
  #port: number | undefined;

  constructor(options: GrpcServerOptions = {}) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    // First in the list, so it is the innermost: it sees each call before other interceptors.
    const interceptors = [this.#intake.interceptor, ...(options.grpcOptions?.interceptors ?? [])];
    this.#server = new Server({ ...options.grpcOptions, interceptors });
  }

  /** Adds a service; all services must be registered before `start()`. */
  register<S extends DescService>(service: S, impl: ServiceImpl<S>): this {
    this.#addUserService(service, impl, 'typed');
    return this;
  }

  /**
   * Adds a service whose handlers take and return the bytes on the wire, for one that must look
   * at the caller and the size of a request before decoding it, or that passes bytes on as
   * they are. It is served like any other: authenticated, traced, in health and reflection.
   */
  registerRaw<S extends DescService>(service: S, impl: RawServiceImpl<S>): this {
    this.#addUserService(service, impl, 'raw');
    return this;
  }

  /** The bound port; known once `start()` has resolved. */
  get port(): number {
    if (this.#port === undefined) {
      throw new UnderstudyError(ErrorCode.FailedPrecondition, 'gRPC server is not started');
    }
    return this.#port;
  }

  /** Binds and serves; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.#state !== 'new') {
      throw new UnderstudyError(ErrorCode.FailedPrecondition, 'gRPC server was already started');
    }
    this.#state = 'starting';
    const userServices = this.#registrations.map((r) => r.service);
    const reflection = reflectionServices(
      new ReflectionIndex([
        ...userServices,
        Health,
        reflectionV1.ServerReflection,
        reflectionV1alpha.ServerReflection,
      ]),
    );
    this.#add(Health, this.health.impl, true, 'typed');
    this.#add(reflectionV1.ServerReflection, reflection.v1, true, 'typed');
    this.#add(reflectionV1alpha.ServerReflection, reflection.v1alpha, true, 'typed');

    const telemetry = new RpcTelemetry('server');
    for (const { service, impl, public: isPublic, encoding } of this.#registrations) {
      const edge: Edge = {
        logger: this.#logger,
        telemetry,
        authenticate: isPublic ? undefined : this.#options.authenticate,
        authorize: isPublic ? undefined : this.#options.authorize,
        retryDelay: this.#options.retryDelay,
        intake: this.#intake,
      };
      for (const method of service.methods) this.#intake.route(method, edge);
      const definition =
        encoding === 'raw' ? rawServiceDefinition(service) : serviceDefinition(service);
      this.#server.addService(definition, handlersOf(service, impl, edge, encoding));
    }

    const address = hostPort(this.#options.host ?? '0.0.0.0', this.#options.port ?? 0);
    const { tls } = this.#options;
    let credentials: ServerCredentials;
    try {
      credentials = credentialsOf(tls);
    } catch (error) {
      this.#state = 'stopped';
      throw error;
    }
    this.#port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(address, credentials, (error, port) => {
        if (error) {
          this.#state = 'stopped';
          reject(
            new UnderstudyError(ErrorCode.Unavailable, `cannot listen on ${address}`, {
              cause: error,
            }),
          );
        } else {
          resolve(port);
        }
      });
    });
    // A service may have declared itself NOT_SERVING before start (still warming up).
    for (const name of [overallService, ...userServices.map((s) => s.typeName)]) {
      if (this.health.get(name) === undefined) this.health.set(name, 'SERVING');
    }
    this.#state = 'serving';
    const transport = tls === undefined ? 'plaintext' : tls.clientCa ? 'mutual TLS' : 'TLS';
    this.#logger.info({ address, port: this.#port, transport }, 'gRPC server listening');
    return this.#port;
  }

  /**
   * Two-phase stop: NOT_SERVING and no new calls, then up to `shutdownTimeoutMs` for calls in
   * flight, then cancel what is left.
   */
  async shutdown(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.health.shutdown();
    const timeoutMs = this.#options.shutdownTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => {
        this.#server.tryShutdown(() => {
          resolve(true);
        });
      }),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(resolve, timeoutMs, false);
      }),
    ]);
    clearTimeout(timer);
    if (!drained) {
      this.#logger.warn({ timeoutMs }, 'gRPC calls still running at shutdown; cancelling them');
      this.#server.forceShutdown();
    }
    this.#logger.info({}, 'gRPC server stopped');
  }

  #addUserService(service: DescService, impl: object, encoding: Encoding): void {
    if (builtIn.includes(service.typeName)) {
      throw new UnderstudyError(
        ErrorCode.AlreadyExists,
        `${service.typeName} is served by GrpcServer itself`,
      );
    }
    if (encoding === 'raw' && this.#options.authorize !== undefined) {
      throw new UnderstudyError(
        ErrorCode.FailedPrecondition,
        `${service.typeName} is raw: authorize cannot see its requests`,
      );
    }
    this.#add(service, impl, false, encoding);
  }

  #add(service: DescService, impl: object, isPublic: boolean, encoding: Encoding): void {
    if (this.#state !== 'new' && !(this.#state === 'starting' && isPublic)) {
      throw new UnderstudyError(
        ErrorCode.FailedPrecondition,
        `cannot register ${service.typeName} after start`,
      );
    }
    if (this.#registrations.some((r) => r.service.typeName === service.typeName)) {
      throw new UnderstudyError(ErrorCode.AlreadyExists, `${service.typeName} is registered twice`);
    }
    const missing = service.methods.filter(
      (m) => typeof Reflect.get(impl, m.localName) !== 'function',
    );
    if (missing.length > 0) {
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        `${service.typeName} has no handler for ${missing.map((m) => m.name).join(', ')}`,
      );
    }
    this.#registrations.push({ service, impl, public: isPublic, encoding });
  }
}

function handlersOf(
  service: DescService,
  impl: object,
  edge: Edge,
  encoding: Encoding,
): UntypedServiceImplementation {
  return Object.fromEntries(
    service.methods.map((method) => {
      const handler = Reflect.get(impl, method.localName) as (...args: never[]) => unknown;
      // Bound so class-based implementations keep their `this`.
      return [method.localName, grpcHandler(method, handler.bind(impl), edge, encoding)];
    }),
  );
}

function credentialsOf(tls: GrpcTls | undefined): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  try {
    // Unusable files fail here, named as such, rather than as a failure to listen.
    createSecureContext({
      cert: tls.cert,
      key: tls.key,
      ...(tls.clientCa && { ca: tls.clientCa }),
    });
  } catch (error) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      'the TLS certificate, key or client CA is not usable',
      { cause: error },
    );
  }
  const pair = { cert_chain: tls.cert, private_key: tls.key };
  return ServerCredentials.createSsl(tls.clientCa ?? null, [pair], tls.clientCa !== undefined);
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
