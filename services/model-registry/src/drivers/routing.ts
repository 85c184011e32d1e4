import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  RoutingTableChangeSchema,
  RoutingTableSchema,
  type Route,
  type RoutingTable,
  type RoutingTableChange,
} from '@understudy/contracts';
import { rethrowDatabaseError, withTransaction } from '@understudy/database';
import type { DataSource, EntityManager } from 'typeorm';
import { RouteRow, RoutingChangeRow } from './entities.js';
import { routeOf, routesJson, routesOf } from './mapping.js';

/** A tenant's routes after a change, at the routing table revision that holds them. */
export interface RoutesChange {
  readonly tenantId: string;
  readonly revision: bigint;
  readonly routes: Route[];
}

/** The channel on which a routing change announces its revision; see RoutingListener. */
export const routingChannel = 'registry_routing';

/** Changes after a revision, complete up to `through`. */
export interface ChangesPage {
  /** Oldest first. */
  readonly changes: RoutingTableChange[];
  /**
   * The revision this page is complete up to: its last change's when it is full, else the
   * table's head when it was read (a tenant's changes leave gaps in the revisions).
   */
  readonly through: bigint;
}

/** How much history the routing table keeps for watchers that resume. */
export interface RoutingRetention {
  readonly revisions: number;
  readonly hours: number;
}

const routeOrder = { taskId: 'ASC', stage: 'ASC', routeId: 'ASC' } as const;

/**
 * Records a change of a tenant's routes made in `manager`'s transaction: takes the next
 * revision (the routing_head row lock orders concurrent changes by commit) and stores the
 * tenant's full routes at it.
 */
export async function recordRoutesChange(
  manager: EntityManager,
  tenantId: string,
): Promise<RoutesChange> {
  const [head] = await manager.query<[{ revision: string }[], number]>(
    'UPDATE routing_head SET revision = revision + 1 WHERE id = 1 RETURNING revision',
  );
  const revision = BigInt(head[0]?.revision ?? '0');
  const routes = (await manager.find(RouteRow, { where: { tenantId }, order: routeOrder })).map(
    routeOf,
  );
  await manager.insert(RoutingChangeRow, {
    revision: revision.toString(),
    tenantId,
    routes: routesJson(routes),
    createdAt: new Date(),
  });
  // Delivered at commit (and not at all on rollback) to every replica's routing listener.
  await manager.query('SELECT pg_notify($1, $2)', [routingChannel, revision.toString()]);
  return { tenantId, revision, routes };
}

/** The routing table as read by routers: snapshots and the changes after a revision. */
export class RoutingStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Every route (of `tenantId`, when not empty) at one consistent revision. */
  snapshot(tenantId: string): Promise<RoutingTable> {
    return withTransaction(
      this.dataSource,
      async (manager) => {
        const [head] = await manager.query<{ revision: string }[]>(
          'SELECT revision FROM routing_head WHERE id = 1',
        );
        const rows = await manager.find(RouteRow, {
          where: tenantId === '' ? {} : { tenantId },
          order: { tenantId: 'ASC', ...routeOrder },
        });
        const [latest] = await manager.query<{ at: Date | null }[]>(
          'SELECT max(created_at) AS at FROM routing_change',
        );
        return create(RoutingTableSchema, {
          revision: BigInt(head?.revision ?? '0'),
          routes: rows.map(routeOf),
          ...(latest?.at && { updatedAt: timestampFromDate(latest.at) }),
        });
      },
      { isolation: 'REPEATABLE READ' },
    );
  }

  /** The revision of the latest change. */
  async head(): Promise<bigint> {
    const [row] = await this.dataSource
      .query<{ revision: string }[]>('SELECT revision FROM routing_head WHERE id = 1')
      .catch(rethrowDatabaseError);
    return BigInt(row?.revision ?? '0');
  }

  /**
   * Up to `limit` changes after `revision` (of `tenantId`, when not empty), or undefined when
   * some of them are no longer held (pruned) or the table never reached `revision` (it was
   * reset): the reader then needs a new snapshot. One snapshot for both answers, so that a
   * concurrent prune cannot leave an unnoticed gap.
   */
  changesAfter(
    revision: bigint,
    tenantId: string,
    limit: number,
  ): Promise<ChangesPage | undefined> {
    return withTransaction(
      this.dataSource,
      async (manager) => {
        const [bounds] = await manager.query<{ head: string; oldest: string | null }[]>(
          `SELECT revision AS head, (SELECT min(revision) FROM routing_change) AS oldest
             FROM routing_head WHERE id = 1`,
        );
        const head = BigInt(bounds?.head ?? '0');
        // Revisions have no gaps and are pruned oldest first: what is held runs up to the head.
        const oldest = BigInt(bounds?.oldest ?? head + 1n);
        if (revision > head || revision < oldest - 1n) return undefined;
        const builder = manager
          .createQueryBuilder(RoutingChangeRow, 'c')
          .where('c.revision > :revision', { revision: revision.toString() });
        if (tenantId !== '') builder.andWhere('c.tenantId = :tenantId', { tenantId });
        const rows = await builder.orderBy('c.revision', 'ASC').limit(limit).getMany();
        const changes = rows.map((row) =>
          create(RoutingTableChangeSchema, {
            revision: BigInt(row.revision),
            tenantId: row.tenantId,
            routes: routesOf(row.routes),
          }),
        );
        const through = changes.length === limit ? (changes.at(-1)?.revision ?? head) : head;
        return { changes, through };
      },
      { isolation: 'REPEATABLE READ' },
    );
  }

  /**
   * Deletes the changes outside `retention`, oldest first so that what is held stays a run of
   * revisions up to the head. The latest change is always kept: it dates the table.
   * Returns how many were deleted.
   */
  async prune(retention: RoutingRetention): Promise<number> {
    const [, deleted] = await this.dataSource
      .query<[unknown[], number]>(
        `WITH head AS (SELECT revision FROM routing_head WHERE id = 1),
              expired AS (
                SELECT max(revision) AS revision FROM routing_change
                 WHERE created_at < now() - make_interval(hours => $2))
         DELETE FROM routing_change
          WHERE revision < (SELECT revision FROM head)
            AND (revision <= (SELECT revision FROM head) - $1
                 OR revision <= (SELECT revision FROM expired))`,
        [retention.revisions, retention.hours],
      )
      .catch(rethrowDatabaseError);
    return deleted;
  }

  async ofTask(tenantId: string, taskId: string): Promise<Route[]> {
    const rows = await this.dataSource.manager
      .find(RouteRow, { where: { tenantId, taskId }, order: routeOrder })
      .catch(rethrowDatabaseError);
    return rows.map(routeOf);
  }
}
