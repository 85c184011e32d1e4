import { mapDatabaseError, rethrowDatabaseError, withDatabaseErrors } from '@understudy/database';
import type { DataSource, QueryRunner } from 'typeorm';
import { outboxChannel } from './changes.js';

/** An event waiting in the outbox, as inChange wrote it. */
export interface OutboxRecord {
  /** bigint, as a decimal string. */
  readonly id: string;
  readonly topic: string;
  readonly key: string;
  readonly eventId: string;
  /** The event in binary protobuf. */
  readonly payload: Uint8Array;
  readonly createdAt: Date;
}

export interface OutboxBacklog {
  readonly rows: number;
  /** When the oldest waiting event was written; undefined when none waits. */
  readonly oldestAt: Date | undefined;
}

/**
 * The relay's hold on the outbox. Only one exists per database at a time (a session-level
 * advisory lock), so the relay alone decides the order of publishing.
 */
export interface OutboxLease {
  /** The oldest waiting events, in id order (commit order per key). */
  pending(limit: number): Promise<OutboxRecord[]>;
  /** Deletes published events. */
  remove(ids: readonly string[]): Promise<void>;
  /** Resolves when the session, and with it the lock, is gone: stop relaying at once. */
  readonly lost: Promise<Error>;
  /** Gives the lock up; another process may take it from here on. */
  release(): Promise<void>;
}

export interface Outbox {
  /**
   * The lease, or undefined while another process holds it. `wake` is called whenever a change
   * with events commits (NOTIFY on `registry_outbox`, in this process or another).
   */
  lead(wake: () => void): Promise<OutboxLease | undefined>;
  backlog(): Promise<OutboxBacklog>;
}

/** What node-postgres' client offers beyond TypeORM's typing of it (`any`). */
interface ListeningClient {
  on(event: 'notification', listener: (message: { channel: string }) => void): unknown;
  on(event: 'error' | 'end', listener: (error?: Error) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
}

/** Names the relay's advisory lock, taken as `hashtextextended(name, 0)` like the task locks. */
export const outboxRelayLock = 'registry:outbox-relay';

interface PendingRow {
  id: string;
  topic: string;
  key: string;
  event_id: string;
  payload: Buffer;
  created_at: Date;
}

/** The outbox table of the registry's schema, relayed through one dedicated session. */
export class PostgresOutbox implements Outbox {
  constructor(private readonly dataSource: DataSource) {}

  async lead(wake: () => void): Promise<OutboxLease | undefined> {
    const runner = this.dataSource.createQueryRunner('master');
    try {
      const client = (await runner.connect()) as ListeningClient;
      const [row] = (await runner.query(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
        [outboxRelayLock],
      )) as { locked: boolean }[];
      if (row?.locked !== true) {
        await runner.release();
        return undefined;
      }
      return await PostgresLease.open(runner, client, wake);
    } catch (error) {
      await runner.release();
      throw mapDatabaseError(error);
    }
  }

  async backlog(): Promise<OutboxBacklog> {
    const [row] = await this.dataSource
      .query<{ rows: string; oldest_at: Date | null }[]>(
        'SELECT count(*) AS rows, min(created_at) AS oldest_at FROM outbox',
      )
      .catch(rethrowDatabaseError);
    return { rows: Number(row?.rows ?? 0), oldestAt: row?.oldest_at ?? undefined };
  }
}

/**
 * A session holding the relay lock and listening on the outbox channel. Its queries run on the
 * same session, so a relay whose session died cannot delete rows another relay now owns.
 */
class PostgresLease implements OutboxLease {
  readonly lost: Promise<Error>;
  private readonly detach: () => void;

  private constructor(
    private readonly runner: QueryRunner,
    client: ListeningClient,
    wake: () => void,
  ) {
    let onLost: (error?: Error) => void = () => undefined;
    this.lost = new Promise((resolve) => {
      onLost = (error) => {
        resolve(error ?? new Error('the outbox relay session ended'));
      };
    });
    const onNotification = ({ channel }: { channel: string }) => {
      if (channel === outboxChannel) wake();
    };
    client.on('notification', onNotification);
    client.on('error', onLost);
    client.on('end', onLost);
    this.detach = () => {
      client.removeListener('notification', onNotification);
      client.removeListener('error', onLost);
      client.removeListener('end', onLost);
    };
  }

  static async open(
    runner: QueryRunner,
    client: ListeningClient,
    wake: () => void,
  ): Promise<PostgresLease> {
    const lease = new PostgresLease(runner, client, wake);
    try {
      await runner.query(`LISTEN ${outboxChannel}`);
    } catch (error) {
      await lease.release();
      throw error;
    }
    return lease;
  }

  async pending(limit: number): Promise<OutboxRecord[]> {
    // Never "after the last id published": ids are taken before commit, so a smaller id of
    // another key can commit after a larger one. What is still here is what is unpublished.
    const rows = (await this.query(
      'SELECT id, topic, key, event_id, payload, created_at FROM outbox ORDER BY id LIMIT $1',
      [limit],
    )) as PendingRow[];
    return rows.map((row) => ({
      id: row.id,
      topic: row.topic,
      key: row.key,
      eventId: row.event_id,
      payload: new Uint8Array(row.payload.buffer, row.payload.byteOffset, row.payload.byteLength),
      createdAt: row.created_at,
    }));
  }

  async remove(ids: readonly string[]): Promise<void> {
    await this.query('DELETE FROM outbox WHERE id = ANY($1::bigint[])', [ids]);
  }

  async release(): Promise<void> {
    this.detach();
    try {
      if (!this.runner.isReleased) {
        await this.runner.query(`UNLISTEN ${outboxChannel}`);
        await this.runner.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [
          outboxRelayLock,
        ]);
      }
    } catch {
      // A broken session has lost its lock and its LISTEN with it.
    } finally {
      await this.runner.release();
    }
  }

  private query(sql: string, parameters: unknown[]): Promise<unknown> {
    return withDatabaseErrors(() => this.runner.query(sql, parameters) as Promise<unknown>);
  }
}
