import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@understudy/telemetry';
import pg from 'pg';
import { routingChannel } from './routing.js';

/** What the listener reports: a revision some replica committed, or that it (re)connected. */
export interface RoutingSignals {
  /** A routing change at `revision` has committed. */
  committed(revision: bigint): void;
  /** Listening (again): changes committed while it was not are found only by reading. */
  listening(): void;
}

/**
 * Hears the routing changes every replica commits (pg_notify in recordRoutesChange, delivered at
 * commit) on one connection per process, outside the pool: a LISTEN holds its connection for
 * good. Reconnects after a failure, with a pause, for as long as it runs.
 */
export class RoutingListener {
  readonly #connection: pg.ClientConfig;
  readonly #signals: RoutingSignals;
  readonly #logger: Logger;
  readonly #retryMs: number;
  readonly #stop = new AbortController();
  #client: pg.Client | undefined;
  #running: Promise<void> | undefined;

  constructor(
    connection: pg.ClientConfig,
    signals: RoutingSignals,
    logger: Logger,
    retryMs = 1_000,
  ) {
    this.#connection = connection;
    this.#signals = signals;
    this.#logger = logger;
    this.#retryMs = retryMs;
  }

  onApplicationBootstrap(): void {
    this.#running ??= this.#run();
  }

  /** Before the database closes (onApplicationShutdown). */
  async beforeApplicationShutdown(): Promise<void> {
    this.#stop.abort();
    await this.#client?.end().catch(() => undefined);
    await this.#running;
  }

  async #run(): Promise<void> {
    const stopped = this.#stop.signal;
    for (;;) {
      try {
        await this.#listenUntilLost();
      } catch (error) {
        if (!stopped.aborted) {
          this.#logger.warn(
            { err: error, retryMs: this.#retryMs },
            'routing listener lost its connection; reconnecting',
          );
        }
      }
      if (stopped.aborted) return;
      await sleep(this.#retryMs, undefined, { signal: stopped }).catch(() => undefined);
    }
  }

  /** Connects, LISTENs, and resolves or rejects when the connection ends. */
  async #listenUntilLost(): Promise<void> {
    const client = new pg.Client(this.#connection);
    this.#client = client;
    const lost = new Promise<void>((resolve, reject) => {
      client.once('error', reject);
      client.once('end', resolve);
    });
    // Until `lost` is awaited below, a failure while connecting must not go unhandled.
    lost.catch(() => undefined);
    try {
      client.on('notification', ({ channel, payload }) => {
        if (channel !== routingChannel || payload === undefined || !/^\d+$/.test(payload)) return;
        this.#signals.committed(BigInt(payload));
      });
      await client.connect();
      await client.query(`LISTEN ${routingChannel}`);
      this.#signals.listening();
      await lost;
    } finally {
      await client.end().catch(() => undefined);
      this.#client = undefined;
    }
  }
}
