/**
 * Routing-table watchers for bench/watch-fanout.ts, run as a child process of it: each on its
 * own gRPC connection, as separate gateways would be. Tells the parent (IPC) when every one has
 * its snapshot, and for each change when the first and the last of them received it.
 */
import { ModelRegistryService } from '@understudy/contracts';
import { createClient } from '@understudy/grpc';
import type { FromSubscribers, SubscriberOptions } from './watch-protocol.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as SubscriberOptions;
const send = (message: FromSubscribers) => process.send?.(message);
const now = () => performance.timeOrigin + performance.now();

const stop = new AbortController();
/** Per revision: when each subscriber received it. */
const receipts = new Map<bigint, number[]>();
let snapshots = 0;

const clients = Array.from({ length: options.count }, () =>
  createClient(ModelRegistryService, options.address, {
    metadata: options.metadata,
    timeoutMs: Infinity,
    // Its own connection, not one shared through grpc-js's global subchannel pool.
    grpcOptions: { 'grpc.use_local_subchannel_pool': 1 },
  }),
);

async function subscribe(client: (typeof clients)[number]): Promise<void> {
  const stream = client.watchRoutingTable(
    { tenantId: options.tenantId, fromRevision: 0n },
    { signal: stop.signal },
  );
  for await (const { kind } of stream) {
    const at = now();
    if (kind.case === 'snapshot') {
      snapshots += 1;
      if (snapshots === options.count) send({ type: 'ready' });
    } else if (kind.case === 'change') {
      const seen = receipts.get(kind.value.revision) ?? [];
      seen.push(at);
      receipts.set(kind.value.revision, seen);
      if (seen.length === options.count) {
        send({
          type: 'seen',
          revision: kind.value.revision.toString(),
          first: Math.min(...seen),
          last: Math.max(...seen),
        });
        receipts.delete(kind.value.revision);
      }
    }
  }
}

// The parent's only message: stop.
process.on('message', () => {
  stop.abort();
  for (const client of clients) client.close();
  process.disconnect();
});
// The parent went away without asking: end too.
process.on('disconnect', () => {
  stop.abort();
});

await Promise.all(
  clients.map((client) =>
    subscribe(client).catch((error: unknown) => {
      if (!stop.signal.aborted) send({ type: 'failed', error: String(error) });
    }),
  ),
);
