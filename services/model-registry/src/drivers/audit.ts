import { create, type JsonObject } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  AuditEntrySchema,
  ResourceType,
  type AuditEntry,
  type ListAuditEntriesRequest,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { DataSource } from 'typeorm';
import type { ListOrder } from '../domain/paging.js';
import { requireFields } from '../domain/validation.js';
import { AuditEntryRow } from './entities.js';
import { keysetPage } from './keyset.js';

const auditOrder: ListOrder<AuditEntryRow> = {
  fields: {
    occurred_at: { column: 'a.occurredAt', kind: 'timestamp', value: (row) => row.occurredAt },
  },
  fallback: 'occurred_at desc',
  // Insertion order breaks ties of entries written in the same millisecond.
  id: { column: 'a.seq', kind: 'integer', value: (row) => row.seq },
};

export function auditEntryOf(row: AuditEntryRow): AuditEntry {
  return create(AuditEntrySchema, {
    auditEntryId: row.auditEntryId,
    tenantId: row.tenantId,
    occurredAt: timestampFromDate(row.occurredAt),
    actor: row.actor,
    action: row.action,
    resourceType: ResourceType[row.resourceType as keyof typeof ResourceType],
    resourceId: row.resourceId,
    requestId: row.requestId,
    reason: row.reason,
    // Written from a Struct (a JSON object) by inChange.
    details: row.details as JsonObject,
    traceId: row.traceId,
  });
}

/** Reads the audit log, which inChange writes in each change's transaction and never alters. */
export class AuditLog {
  constructor(private readonly dataSource: DataSource) {}

  /** A tenant's entries, filtered by resource, actor and time window ([start, end)). */
  async list(
    request: ListAuditEntriesRequest,
  ): Promise<{ auditEntries: AuditEntry[]; nextPageToken: string }> {
    const { tenantId, resourceType, resourceId, actor, window } = request;
    requireFields({ tenant_id: tenantId });
    const typeName = ResourceType[resourceType] as string | undefined;
    if (typeName === undefined) {
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        `resource_type ${String(resourceType)} is unknown`,
      );
    }
    const start = window?.startTime && timestampDate(window.startTime);
    const end = window?.endTime && timestampDate(window.endTime);
    if (start !== undefined && end !== undefined && start >= end) {
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        'window.start_time must be before window.end_time',
      );
    }
    const builder = this.dataSource.manager
      .createQueryBuilder(AuditEntryRow, 'a')
      .where('a.tenantId = :tenantId', { tenantId });
    if (resourceType !== ResourceType.UNSPECIFIED) {
      builder.andWhere('a.resourceType = :resourceType', { resourceType: typeName });
    }
    if (resourceId !== '') builder.andWhere('a.resourceId = :resourceId', { resourceId });
    if (actor !== '') builder.andWhere('a.actor = :actor', { actor });
    if (start !== undefined) builder.andWhere('a.occurredAt >= :start', { start });
    if (end !== undefined) builder.andWhere('a.occurredAt < :end', { end });
    const page = await keysetPage(builder, auditOrder, request, {
      tenantId,
      resourceType,
      resourceId,
      actor,
      start: start?.toISOString() ?? '',
      end: end?.toISOString() ?? '',
    });
    return { auditEntries: page.rows.map(auditEntryOf), nextPageToken: page.nextPageToken };
  }
}
