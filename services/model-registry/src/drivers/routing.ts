import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  RoutingTableChangeSchema,
  RoutingTableSchema,
  type Route,
  type RoutingTable,
  type RoutingTableChange,
} from '@understudy/contracts';
import { mapDatabaseError, withTransaction } from '@understudy/database';
import type { DataSource, EntityManager } from 'typeorm';
import { RouteRow, RoutingChangeRow } from './entities.js';
import { routeOf, routesJson, routesOf } from './mapping.js';

/** A tenant's routes after a change, at the routing table revision that holds them. */
export interface RoutesChange {
  readonly tenantId: string;
  readonly revision: bigint;
  readonly routes: Route[];
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

  /** Changes after `revision` (of `tenantId`, when not empty), oldest first, at most `limit`. */
  async changesAfter(
    revision: bigint,
    tenantId: string,
    limit = 100,
  ): Promise<RoutingTableChange[]> {
    const builder = this.dataSource.manager
      .createQueryBuilder(RoutingChangeRow, 'c')
      .where('c.revision > :revision', { revision: revision.toString() });
    if (tenantId !== '') builder.andWhere('c.tenantId = :tenantId', { tenantId });
    const rows = await builder
      .orderBy('c.revision', 'ASC')
      .limit(limit)
      .getMany()
      .catch((error: unknown) => {
        throw mapDatabaseError(error);
      });
    return rows.map((row) =>
      create(RoutingTableChangeSchema, {
        revision: BigInt(row.revision),
        tenantId: row.tenantId,
        routes: routesOf(row.routes),
      }),
    );
  }

  /**
   * Whether every change after `revision` is still held, so that a watcher resuming from it
   * needs no new snapshot. False for a revision the table has not reached (it was reset).
   */
  async retainsChangesAfter(revision: bigint): Promise<boolean> {
    const [row] = await this.dataSource
      .query<{ head: string; oldest: string | null }[]>(
        `SELECT (SELECT revision FROM routing_head WHERE id = 1) AS head,
                (SELECT min(revision) FROM routing_change) AS oldest`,
      )
      .catch((error: unknown) => {
        throw mapDatabaseError(error);
      });
    if (row === undefined || revision > BigInt(row.head)) return false;
    return row.oldest === null || revision >= BigInt(row.oldest) - 1n;
  }

  async ofTask(tenantId: string, taskId: string): Promise<Route[]> {
    const rows = await this.dataSource.manager
      .find(RouteRow, { where: { tenantId, taskId }, order: routeOrder })
      .catch((error: unknown) => {
        throw mapDatabaseError(error);
      });
    return rows.map(routeOf);
  }
}
