import { randomUUID } from 'node:crypto';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  ModelStage,
  ResourceType,
  TimeWindowSchema,
  type AuditEntry,
  type AuditEvent,
  type ListAuditEntriesRequestSchema,
  type ModelRegistryService,
} from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import type { Client } from '@understudy/grpc';
import { KafkaDriver, Messaging, topics } from '@understudy/messaging';
import { postgresUrl, type RunningService } from '@understudy/service';
import { createDatabase, uniqueName } from '@understudy/testbed';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { settings } from './config.js';
import { registeredVersion } from './testing/fixtures.js';
import { startRegistry } from './testing/start.js';

let service: RunningService<typeof settings>;
let registry: Client<typeof ModelRegistryService>;
let peer: Messaging;
const auditEvents: AuditEvent[] = [];

const actor = 'test-admin';

beforeAll(async () => {
  const { kafka, postgres } = inject('testbed');
  const database = await createDatabase(postgres, uniqueName('registry-audit'));
  const started = await startRegistry(kafka.brokers, postgresUrl(database));
  service = started.service;
  registry = started.connect();
  peer = new Messaging({
    driver: new KafkaDriver({ brokers: kafka.brokers, clientId: uniqueName('audit-reader') }),
    producerName: 'registry-audit-test',
  });
  peer.on(topics.audit, { group: uniqueName('audit-reader') }, (event) => {
    auditEvents.push(event);
  });
  await peer.start();
});

afterAll(async () => {
  registry.close();
  await peer.stop();
  await service.stop();
});

async function register(tenantId: string, taskId: string) {
  return (await registeredVersion(registry, tenantId, taskId)).modelVersion;
}

/** Every page of a listing, following the tokens. */
async function allPages(
  request: MessageInitShape<typeof ListAuditEntriesRequestSchema>,
): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let pageToken = '';
  do {
    const page = await registry.listAuditEntries({ ...request, pageToken });
    entries.push(...page.auditEntries);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return entries;
}

const summary = (entries: readonly AuditEntry[]) =>
  entries.map(({ action, resourceId }) => `${action} ${resourceId}`);

describe('audit log', () => {
  it('records who changed what in the change, lists it filtered and paged, and publishes it', async () => {
    const tenantId = uniqueName('tenant');
    const taskId = uniqueName('task');
    const v1 = await register(tenantId, taskId);
    const v2 = await register(tenantId, taskId);
    await registry.promoteModelVersion({
      requestId: randomUUID(),
      tenantId,
      modelVersionId: v1.modelVersionId,
      targetStage: ModelStage.SHADOW,
      trafficPercent: 10,
      etag: v1.etag,
      reason: 'offline evaluation passed',
    });
    await registry.retireModelVersion({
      tenantId,
      modelVersionId: v2.modelVersionId,
      etag: v2.etag,
      reason: 'superseded',
    });

    const { auditEntries: newestFirst, nextPageToken } = await registry.listAuditEntries({
      tenantId,
    });
    expect(nextPageToken).toBe('');
    expect(summary(newestFirst)).toEqual([
      `RetireModelVersion ${v2.modelVersionId}`,
      `PromoteModelVersion ${v1.modelVersionId}`,
      `RegisterModelVersion ${v2.modelVersionId}`,
      `CreateDataset ${v2.datasetId}`,
      `RegisterModelVersion ${v1.modelVersionId}`,
      `CreateDataset ${v1.datasetId}`,
    ]);
    const [retired, promoted] = newestFirst;
    for (const entry of newestFirst) {
      expect(entry).toMatchObject({ tenantId, actor, requestId: expect.any(String) as unknown });
    }
    expect(newestFirst.map((entry) => entry.resourceType)).toEqual([
      ResourceType.MODEL_VERSION,
      ResourceType.MODEL_VERSION,
      ResourceType.MODEL_VERSION,
      ResourceType.DATASET,
      ResourceType.MODEL_VERSION,
      ResourceType.DATASET,
    ]);
    expect(promoted?.reason).toBe('offline evaluation passed');
    expect(retired?.reason).toBe('superseded');
    for (const entry of newestFirst) expect(entry.traceId).toMatch(/^[0-9a-f]{32}$/);

    // Order, filters and windows ([start, end)).
    const oldestFirst = await allPages({ tenantId, orderBy: 'occurred_at' });
    expect(oldestFirst).toEqual([...newestFirst].reverse());
    expect(
      summary(await allPages({ tenantId, resourceId: v1.modelVersionId, orderBy: 'occurred_at' })),
    ).toEqual([
      `RegisterModelVersion ${v1.modelVersionId}`,
      `PromoteModelVersion ${v1.modelVersionId}`,
    ]);
    expect(
      await allPages({ tenantId, resourceType: ResourceType.MODEL_VERSION, actor: 'nobody' }),
    ).toEqual([]);
    expect(
      summary(await allPages({ tenantId, resourceType: ResourceType.DATASET, actor })),
    ).toEqual([`CreateDataset ${v2.datasetId}`, `CreateDataset ${v1.datasetId}`]);
    expect(await allPages({ tenantId, actor })).toEqual(newestFirst);
    const promotedAt = promoted?.occurredAt;
    if (promotedAt === undefined) throw new Error('no occurred_at');
    expect(
      summary(
        await allPages({ tenantId, window: create(TimeWindowSchema, { startTime: promotedAt }) }),
      ),
    ).toEqual([
      `RetireModelVersion ${v2.modelVersionId}`,
      `PromoteModelVersion ${v1.modelVersionId}`,
    ]);
    expect(
      await allPages({ tenantId, window: create(TimeWindowSchema, { endTime: promotedAt }) }),
    ).toEqual(newestFirst.slice(2));
    await expect(
      registry.listAuditEntries({
        tenantId,
        window: create(TimeWindowSchema, { startTime: promotedAt, endTime: promotedAt }),
      }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });

    // Page by page: the same entries, each once.
    expect(await allPages({ tenantId, pageSize: 1 })).toEqual(newestFirst);
    const firstPage = await registry.listAuditEntries({ tenantId, pageSize: 4 });
    expect(firstPage.auditEntries).toEqual(newestFirst.slice(0, 4));
    await expect(
      registry.listAuditEntries({
        tenantId,
        resourceId: v1.modelVersionId,
        pageToken: firstPage.nextPageToken,
      }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });

    // Scoped by tenant, which must be given.
    expect(await allPages({ tenantId: uniqueName('tenant') })).toEqual([]);
    await expect(registry.listAuditEntries({ tenantId: '' })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });

    // Each entry leaves as an AuditEvent, as recorded.
    await expect
      .poll(() => auditEvents.filter((event) => event.entry?.tenantId === tenantId).length, {
        timeout: 15_000,
      })
      .toBe(6);
    const published = auditEvents
      .filter((event) => event.entry?.tenantId === tenantId)
      .map((event) => event.entry);
    expect(published).toEqual(expect.arrayContaining(newestFirst));
  });

  it('refuses UPDATE, DELETE and TRUNCATE of audit entries in the database itself', async () => {
    const tenantId = uniqueName('tenant');
    const version = await register(tenantId, uniqueName('task'));
    const database = service.app.get(DataSource);
    const count = async () =>
      Number(
        (
          await database.query<{ n: string }[]>(
            'SELECT count(*) AS n FROM audit_entry WHERE tenant_id = $1',
            [tenantId],
          )
        )[0]?.n,
      );
    expect(await count()).toBe(2);
    const refused = { code: '42501', message: expect.stringMatching(/append-only/) as unknown };
    await expect(
      database.query("UPDATE audit_entry SET actor = 'someone else' WHERE tenant_id = $1", [
        tenantId,
      ]),
    ).rejects.toMatchObject(refused);
    await expect(
      database.query('DELETE FROM audit_entry WHERE tenant_id = $1', [tenantId]),
    ).rejects.toMatchObject(refused);
    await expect(database.query('TRUNCATE audit_entry')).rejects.toMatchObject(refused);
    expect(await count()).toBe(2);
    const [entry] = (
      await registry.listAuditEntries({ tenantId, resourceId: version.modelVersionId })
    ).auditEntries;
    expect(entry?.actor).not.toBe('someone else');
  });
});
