import type { ModelStage, Route } from '@understudy/contracts';
import { rethrowDatabaseError } from '@understudy/database';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { DataSource, EntityManager } from 'typeorm';
import type { ListOrder, PageRequest } from '../domain/paging.js';
import { stageName } from '../domain/stages.js';
import { notFound, requireFields } from '../domain/validation.js';
import { RouteRow, TaskRoutingRow } from './entities.js';
import { keysetPage } from './keyset.js';
import { routeOf } from './mapping.js';
import { recordRoutesChange, type RoutesChange } from './routing.js';

export interface RouteQuery extends PageRequest {
  readonly tenantId: string;
  /** Empty matches every task. */
  readonly taskId: string;
  /** Only routes at these stages; empty matches all. */
  readonly stages: readonly ModelStage[];
}

const routeOrder: ListOrder<RouteRow> = {
  fields: {
    updated_at: { column: 'r.updatedAt', kind: 'timestamp', value: (row) => row.updatedAt },
    traffic_percent: {
      column: 'r.trafficPercent',
      kind: 'number',
      value: (row) => row.trafficPercent,
    },
  },
  fallback: 'updated_at desc',
  id: { column: 'r.routeId', kind: 'text', value: (row) => row.routeId },
};

/** Routes as their owners read them; they change through PromotionStore. */
export class RouteStore {
  constructor(private readonly dataSource: DataSource) {}

  async get(tenantId: string, routeId: string): Promise<Route> {
    requireFields({ tenant_id: tenantId, route_id: routeId });
    const row = await this.dataSource.manager
      .findOneBy(RouteRow, { tenantId, routeId })
      .catch(rethrowDatabaseError);
    if (row === null) throw notFound('route', routeId);
    return routeOf(row);
  }

  async list(query: RouteQuery): Promise<{ routes: Route[]; nextPageToken: string }> {
    const { tenantId, taskId } = query;
    requireFields({ tenant_id: tenantId });
    const stages = [...new Set(query.stages.map(stageName))].sort();
    const builder = this.dataSource.manager
      .createQueryBuilder(RouteRow, 'r')
      .where('r.tenantId = :tenantId', { tenantId });
    if (taskId !== '') builder.andWhere('r.taskId = :taskId', { taskId });
    if (stages.length > 0) builder.andWhere('r.stage IN (:...stages)', { stages });
    const page = await keysetPage(builder, routeOrder, query, { tenantId, taskId, stages });
    return { routes: page.rows.map(routeOf), nextPageToken: page.nextPageToken };
  }
}

/**
 * Records a change of one task's routes made in `manager`'s transaction: the routing table's
 * next revision, which also becomes the task's own (see assertTaskRevision).
 */
export async function recordTaskRoutesChange(
  manager: EntityManager,
  tenantId: string,
  taskId: string,
): Promise<RoutesChange> {
  const change = await recordRoutesChange(manager, tenantId);
  await manager.upsert(TaskRoutingRow, { tenantId, taskId, revision: change.revision.toString() }, [
    'tenantId',
    'taskId',
  ]);
  return change;
}

/**
 * ABORTED when the task's routes changed after the revision the caller decided on (0 skips the
 * check). Run it under the task lock, so that no change can slip in between check and write:
 * of two changes decided on the same revision, the second then fails here.
 */
export async function assertTaskRevision(
  manager: EntityManager,
  tenantId: string,
  taskId: string,
  expected: bigint,
): Promise<void> {
  if (expected === 0n) return;
  const row = await manager.findOneBy(TaskRoutingRow, { tenantId, taskId });
  const revision = BigInt(row?.revision ?? '0');
  if (revision > expected) {
    throw new UnderstudyError(
      ErrorCode.Aborted,
      `the routes of task ${taskId} changed at revision ${revision.toString()}, after the ` +
        `expected revision ${expected.toString()}; read them again`,
      { retryable: false },
    );
  }
}

/** The task's routes now, and the routing table revision that holds them. */
export async function currentRoutes(
  manager: EntityManager,
  tenantId: string,
  taskId: string,
): Promise<RoutesChange> {
  const [head] = await manager.query<{ revision: string }[]>(
    'SELECT revision FROM routing_head WHERE id = 1',
  );
  const routes = await manager.find(RouteRow, {
    where: { tenantId, taskId },
    order: { stage: 'ASC', routeId: 'ASC' },
  });
  return { tenantId, revision: BigInt(head?.revision ?? '0'), routes: routes.map(routeOf) };
}

/**
 * A route endpoint: an http(s) URL without credentials, since routes are published to every
 * router and shown to every reader.
 */
export function validateEndpoint(endpoint: string): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'endpoint must be an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'endpoint must be an http(s) URL');
  }
  if (url.username !== '' || url.password !== '') {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      'endpoint must not carry credentials (user or password)',
    );
  }
}
