import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelRegistryService, type WatchRoutingTableResponse } from '@understudy/contracts';
import { createClient, type Client } from '@understudy/grpc';
import { postgresUrl, type RunningService } from '@understudy/service';
import { createDatabase, uniqueName, type ServiceProcess } from '@understudy/testbed';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { settings } from './config.js';
import { RoutingWatch } from './domain/routing-watch.js';
import { collect, promoteToProduction, registeredVersion } from './testing/fixtures.js';
import { writePrincipalsFile } from './testing/principals.js';
import { buildRegistry, startRegistryProcess } from './testing/registry-process.int.js';
import { startRegistry } from './testing/start.js';

type RegistryClient = Client<typeof ModelRegistryService>;

const registryRoot = fileURLToPath(new URL('..', import.meta.url));

/** Replica A, in this process: its feed and database are at hand. */
let a: { service: RunningService<typeof settings>; client: RegistryClient };
/** Replica B, the registry bundled and run as a process of its own, on A's database. */
let b: { process: ServiceProcess; client: RegistryClient };

/**
 * Both replicas' feeds poll only every 30 s: a change seen sooner on the replica that did not
 * make it was delivered by PostgreSQL's NOTIFY. They keep the last 2 changes in memory, and
 * pruning keeps the last 3 in the database.
 */
const replicaEnv = {
  UNDERSTUDY_ROUTING_POLL_MS: '30000',
  UNDERSTUDY_ROUTING_FEED_SIZE: '2',
  UNDERSTUDY_ROUTING_RETENTION_REVISIONS: '3',
};

/** A principals file for replica B that admits A's admin too, so one token serves both. */
async function principalsFor(token: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'registry-watch-')), 'principals.json');
  await writePrincipalsFile(file, [
    { subject: 'test-admin', token, roles: ['admin'], tenants: ['*'] },
  ]);
  return file;
}

beforeAll(async () => {
  const { kafka, postgres } = inject('testbed');
  const databaseUrl = postgresUrl(await createDatabase(postgres, uniqueName('watch')));
  const registry = await startRegistry(kafka.brokers, databaseUrl, { env: replicaEnv });
  a = { service: registry.service, client: registry.connect() };
  const bundle = await buildRegistry(join(registryRoot, 'bench', 'dist', 'watch-test-registry'));
  const own = await startRegistryProcess({
    bundle,
    brokers: kafka.brokers,
    databaseUrl,
    logFile: join(await mkdtemp(join(tmpdir(), 'registry-watch-b-')), 'registry-b.log'),
    env: {
      ...replicaEnv,
      UNDERSTUDY_REGISTRY_PRINCIPALS_FILE: await principalsFor(registry.adminToken),
      UNDERSTUDY_LOG_LEVEL: 'warn',
    },
  });
  b = {
    process: own.process,
    client: createClient(ModelRegistryService, own.address, {
      metadata: { authorization: `Bearer ${registry.adminToken}` },
    }),
  };
  await statements().query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public');
}, 240_000);

afterAll(async () => {
  a.client.close();
  b.client.close();
  await b.process.stop();
  await a.service.stop();
});

function statements(): DataSource {
  return a.service.app.get(DataSource);
}

/** Statements this database has run that name the routing_change table, as PostgreSQL counts them. */
async function routingChangeStatements(): Promise<number> {
  // The pattern is a parameter: this statement's own text must not match it.
  const [row] = await statements().query<{ calls: string | null }[]>(
    `SELECT sum(calls) AS calls FROM public.pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND query ILIKE $1`,
    ['%routing_change%'],
  );
  return Number(row?.calls ?? 0);
}

/** Registers a version on `client` and promotes it to production; returns the new revision. */
async function promoted(client: RegistryClient, tenantId: string): Promise<bigint> {
  const { modelVersion } = await registeredVersion(client, tenantId, uniqueName('task'));
  return promoteToProduction(client, modelVersion, 'watch test');
}

function watch(client: RegistryClient, tenantId: string, fromRevision = 0n) {
  return collect(client.watchRoutingTable({ tenantId, fromRevision }, { timeoutMs: Infinity }));
}

function revisionsOf(seen: WatchRoutingTableResponse[]): string[] {
  return seen.map(({ kind }) => `${kind.case ?? 'none'} ${String(kind.value?.revision ?? '')}`);
}

describe('routing table watch across replicas', () => {
  it('shows a watcher on one replica a promotion made on another within a second', async () => {
    const tenantId = uniqueName('tenant');
    const { modelVersion: version } = await registeredVersion(b.client, tenantId, 'triage');
    const seen = watch(a.client, tenantId);
    await expect.poll(() => seen.length).toBe(1);

    const revision = await promoteToProduction(b.client, version, 'watch test');
    const returned = performance.now();
    await expect.poll(() => seen.length, { timeout: 5_000, interval: 5 }).toBe(2);
    const latencyMs = performance.now() - returned;

    expect(seen[0]?.kind.case).toBe('snapshot');
    expect(revisionsOf(seen)[1]).toBe(`change ${String(revision)}`);
    console.info(
      `replica A saw replica B's promotion ${latencyMs.toFixed(0)} ms after it returned`,
    );
    // Well under the 30 s poll: only the notification explains it.
    expect(latencyMs).toBeLessThan(1_000);
  });

  it('sends a snapshot to a watcher resuming from a revision that was pruned', async () => {
    const tenantId = uniqueName('tenant');
    const revisions: bigint[] = [];
    for (let i = 0; i < 5; i += 1) revisions.push(await promoted(b.client, tenantId));
    const [, second, , , head] = revisions;
    if (second === undefined || head === undefined) throw new Error('no revisions');

    // Retention of 3 revisions: the last three changes stay, the second one goes. A's feed
    // holds only the last two: both watchers below start in the database.
    expect(await a.service.app.get(RoutingWatch).prune()).toBeGreaterThan(0);

    const resumed = watch(a.client, tenantId, second);
    await expect.poll(() => resumed.length).toBe(3);
    expect(revisionsOf(resumed)).toEqual(revisions.slice(2).map((r) => `change ${String(r)}`));

    const pruned = watch(a.client, tenantId, second - 1n);
    await expect.poll(() => pruned.length).toBe(1);
    expect(revisionsOf(pruned)).toEqual([`snapshot ${String(head)}`]);
    const [snapshot] = pruned;
    expect(snapshot?.kind.case === 'snapshot' && snapshot.kind.value.routes).toHaveLength(5);
  });

  it('fans one change out to 100 watchers with a bounded number of queries', async () => {
    const tenantId = uniqueName('tenant');
    const { modelVersion: version } = await registeredVersion(a.client, tenantId, 'triage');
    const watchers = Array.from({ length: 100 }, () => watch(a.client, tenantId));
    await expect.poll(() => watchers.every((seen) => seen.length === 1)).toBe(true);
    const before = await routingChangeStatements();

    await promoteToProduction(a.client, version, 'watch test');
    const returned = performance.now();
    await expect
      .poll(() => watchers.every((seen) => seen.length === 2), { timeout: 5_000, interval: 5 })
      .toBe(true);
    const fanOutMs = performance.now() - returned;
    const queries = (await routingChangeStatements()) - before;

    console.info(
      `100 watchers saw the promotion within ${fanOutMs.toFixed(0)} ms; ` +
        `${String(queries)} statements named routing_change meanwhile`,
    );
    expect(fanOutMs).toBeLessThan(1_000);
    // The promotion's insert, then one read by each replica's feed (two statements in one
    // snapshot). With a query per watcher, it would be over 100.
    expect(queries).toBeLessThanOrEqual(10);
  });
});
