import { create } from '@bufbuild/protobuf';
import {
  ModelRegistryService,
  RouteSchema,
  type WatchRoutingTableRequest,
  type WatchRoutingTableResponseSchema,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { createClient, GrpcServer, type ServiceImpl } from '@understudy/grpc';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { afterEach, describe, expect, it } from 'vitest';
import { RoutingTableView } from '../domain/routing-table.js';
import { RoutingWatch } from './routing-watch.js';

type Reply = MessageInitShape<typeof WatchRoutingTableResponseSchema>;

/** A registry whose WatchRoutingTable plays one script per connection. */
async function registry(scripts: ((request: WatchRoutingTableRequest) => AsyncIterable<Reply>)[]) {
  const seen: bigint[] = [];
  const impl = new Proxy(
    {
      watchRoutingTable: (request: WatchRoutingTableRequest) => {
        seen.push(request.fromRevision);
        const script = scripts.shift();
        if (script === undefined) return hang();
        return script(request);
      },
    },
    {
      get: (target, name) =>
        (Reflect.get(target, name) as unknown) ??
        (() => {
          throw new UnderstudyError(ErrorCode.Unimplemented, String(name));
        }),
    },
  ) as unknown as ServiceImpl<typeof ModelRegistryService>;
  const server = new GrpcServer({ host: '127.0.0.1', port: 0, shutdownTimeoutMs: 200 });
  server.register(ModelRegistryService, impl);
  const port = await server.start();
  return { server, seen, address: `127.0.0.1:${port}` };
}

async function* hang(): AsyncGenerator<Reply> {
  await new Promise(() => undefined);
  yield {};
}

const route = (routeId: string, taskId = 'task') =>
  create(RouteSchema, { routeId, tenantId: 'acme', taskId });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('RoutingWatch', () => {
  it('applies a snapshot and changes, and resumes from the last revision after a break', async () => {
    const { server, seen, address } = await registry([
      async function* () {
        await Promise.resolve();
        yield { kind: { case: 'snapshot', value: { revision: 4n, routes: [route('r1')] } } };
        yield {
          kind: {
            case: 'change',
            value: { revision: 5n, tenantId: 'acme', routes: [route('r2')] },
          },
        };
        throw new UnderstudyError(ErrorCode.Unavailable, 'registry restarting');
      },
      async function* () {
        await Promise.resolve();
        yield {
          kind: {
            case: 'change',
            value: { revision: 6n, tenantId: 'acme', routes: [route('r3')] },
          },
        };
      },
    ]);
    const client = createClient(ModelRegistryService, address);
    const view = new RoutingTableView();
    const watch = new RoutingWatch(client, view, { minBackoffMs: 10, maxBackoffMs: 50 });
    cleanups.push(
      () => server.shutdown(),
      () => {
        client.close();
      },
      () => watch.stop(),
    );
    watch.start();

    await expect.poll(() => view.routesFor('acme', 'task').map((r) => r.routeId)).toEqual(['r3']);
    expect(view.revision).toBe(6n);
    // Connected first from nothing, then from 5 after the error; the third call followed the
    // stream's clean end, resuming from 6.
    await expect.poll(() => seen).toEqual([0n, 5n, 6n]);
    expect(watch.state.synced).toBe(true);
  });

  it('keeps retrying while the registry is down, and reports why', async () => {
    const client = createClient(ModelRegistryService, '127.0.0.1:1', { timeoutMs: 200 });
    const view = new RoutingTableView();
    const watch = new RoutingWatch(client, view, { minBackoffMs: 10, maxBackoffMs: 20 });
    cleanups.push(
      () => {
        client.close();
      },
      () => watch.stop(),
    );
    watch.start();
    await expect.poll(() => watch.state.lastError).toBeDefined();
    expect(watch.state.synced).toBe(false);
    expect(view.routesFor('acme', 'task')).toEqual([]);
  });
});
