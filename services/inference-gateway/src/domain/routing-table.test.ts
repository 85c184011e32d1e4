import { create } from '@bufbuild/protobuf';
import { RouteSchema, RoutingTableChangeSchema, RoutingTableSchema } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { RoutingTableView } from './routing-table.js';

const route = (tenantId: string, taskId: string, routeId: string) =>
  create(RouteSchema, { tenantId, taskId, routeId });

describe('RoutingTableView', () => {
  it('indexes a snapshot by tenant and task, replacing what it held', () => {
    const view = new RoutingTableView();
    view.applySnapshot(
      create(RoutingTableSchema, {
        revision: 3n,
        routes: [route('a', 't1', 'r1'), route('a', 't1', 'r2'), route('b', 't1', 'r3')],
      }),
    );
    expect(view.revision).toBe(3n);
    expect(view.routesFor('a', 't1').map((r) => r.routeId)).toEqual(['r1', 'r2']);
    expect(view.routesFor('b', 't1').map((r) => r.routeId)).toEqual(['r3']);
    expect(view.routesFor('a', 't2')).toEqual([]);

    view.applySnapshot(create(RoutingTableSchema, { revision: 9n, routes: [] }));
    expect(view.routesFor('a', 't1')).toEqual([]);
  });

  it('applies newer changes to one tenant and ignores redelivered ones', () => {
    const view = new RoutingTableView();
    view.applySnapshot(
      create(RoutingTableSchema, {
        revision: 1n,
        routes: [route('a', 't1', 'r1'), route('b', 't1', 'r2')],
      }),
    );
    const change = (revision: bigint, tenantId: string, routes = [route(tenantId, 't2', 'r9')]) =>
      create(RoutingTableChangeSchema, { revision, tenantId, routes });

    expect(view.applyChange(change(2n, 'a'))).toBe(true);
    expect(view.routesFor('a', 't1')).toEqual([]);
    expect(view.routesFor('a', 't2').map((r) => r.routeId)).toEqual(['r9']);
    expect(view.routesFor('b', 't1').map((r) => r.routeId)).toEqual(['r2']);

    expect(view.applyChange(change(2n, 'b'))).toBe(false);
    expect(view.routesFor('b', 't1').map((r) => r.routeId)).toEqual(['r2']);

    expect(view.applyChange(change(5n, 'b', []))).toBe(true);
    expect(view.routesFor('b', 't1')).toEqual([]);
    expect(view.revision).toBe(5n);
  });
});
