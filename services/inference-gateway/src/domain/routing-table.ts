import type { Route, RoutingTable, RoutingTableChange } from '@understudy/contracts';

/**
 * The registry's routing table as this gateway last applied it: every tenant's routes, indexed
 * by tenant and task for the per-request lookup.
 */
export class RoutingTableView {
  #revision = 0n;
  #byTenant = new Map<string, Map<string, Route[]>>();

  /** The last revision applied; 0 before the first snapshot. Watchers resume from it. */
  get revision(): bigint {
    return this.#revision;
  }

  /** Replaces everything held. */
  applySnapshot(table: RoutingTable): void {
    const byTenant = new Map<string, Route[]>();
    for (const route of table.routes) {
      byTenant.set(route.tenantId, [...(byTenant.get(route.tenantId) ?? []), route]);
    }
    this.#byTenant = new Map([...byTenant].map(([tenant, routes]) => [tenant, byTask(routes)]));
    this.#revision = table.revision;
  }

  /** Replaces one tenant's routes; changes at or below the held revision are redeliveries. */
  applyChange(change: RoutingTableChange): boolean {
    if (change.revision <= this.#revision) return false;
    if (change.routes.length === 0) this.#byTenant.delete(change.tenantId);
    else this.#byTenant.set(change.tenantId, byTask(change.routes));
    this.#revision = change.revision;
    return true;
  }

  routesFor(tenantId: string, taskId: string): readonly Route[] {
    return this.#byTenant.get(tenantId)?.get(taskId) ?? [];
  }
}

function byTask(routes: readonly Route[]): Map<string, Route[]> {
  const tasks = new Map<string, Route[]>();
  for (const route of routes) tasks.set(route.taskId, [...(tasks.get(route.taskId) ?? []), route]);
  return tasks;
}
