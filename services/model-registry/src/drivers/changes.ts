import { randomUUID } from 'node:crypto';
import {
  create,
  toBinary,
  type DescMessage,
  type JsonObject,
  type MessageShape,
} from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { trace } from '@opentelemetry/api';
import {
  AuditEntrySchema,
  AuditEventSchema,
  ResourceType,
  type AuditEntry,
} from '@understudy/contracts';
import { withTransaction } from '@understudy/database';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { topics, type Topic } from '@understudy/messaging';
import type { DataSource, EntityManager } from 'typeorm';
import { eventMeta } from '../domain/events.js';
import { AuditEntryRow, OutboxRow } from './entities.js';

/** Who made a change: the caller's authenticated subject, or the service for automated ones. */
export type Actor = string;

/** What an audit entry records; the change's frame adds who, when and the trace. */
export interface AuditInput {
  readonly tenantId: string;
  /** The RPC or event that made the change, e.g. `PromoteModelVersion`. */
  readonly action: string;
  readonly resourceType: ResourceType;
  readonly resourceId: string;
  readonly requestId?: string;
  readonly reason?: string;
  /** What changed, e.g. `{ stage: { from: 'CANARY', to: 'PRODUCTION' } }`. */
  readonly details?: JsonObject;
}

/** The side effects of a change, written in its transaction so they commit (or not) with it. */
export interface ChangeLog {
  /** Queues an event for Kafka; the outbox relay publishes it after commit. */
  event<Desc extends DescMessage>(topic: Topic<Desc>, message: MessageShape<Desc>): void;
  /** Records the change in the audit log, which is also published as an AuditEvent. */
  audit(entry: AuditInput): void;
}

/** The channel that wakes outbox relays; PostgreSQL delivers the notification at commit. */
export const outboxChannel = 'registry_outbox';

interface Queued {
  readonly topic: Topic;
  readonly message: MessageShape<DescMessage>;
}

/**
 * Runs a state change in one transaction together with its events (the transactional outbox)
 * and its audit entries, so that exactly the changes that commit are published and audited,
 * whatever happens to this process after the commit. `fn` may run more than once (see
 * withTransaction); each attempt starts with an empty log.
 */
export function inChange<T>(
  dataSource: DataSource,
  actor: Actor,
  fn: (manager: EntityManager, log: ChangeLog) => Promise<T>,
): Promise<T> {
  return withTransaction(dataSource, async (manager) => {
    const events: Queued[] = [];
    const audits: AuditInput[] = [];
    const result = await fn(manager, {
      event: (topic, message) => events.push({ topic, message }),
      audit: (entry) => audits.push(entry),
    });
    const entries = audits.map((input) => auditEntry(actor, input));
    for (const entry of entries) {
      events.push({
        topic: topics.audit,
        message: create(AuditEventSchema, { meta: eventMeta(entry.tenantId), entry }),
      });
    }
    if (entries.length > 0) await manager.insert(AuditEntryRow, entries.map(auditRowOf));
    if (events.length > 0) {
      await manager.insert(OutboxRow, events.map(outboxRowOf));
      await manager.query('SELECT pg_notify($1, $2)', [outboxChannel, '']);
    }
    return result;
  });
}

function auditEntry(actor: Actor, input: AuditInput): AuditEntry {
  return create(AuditEntrySchema, {
    auditEntryId: randomUUID(),
    tenantId: input.tenantId,
    occurredAt: timestampFromDate(new Date()),
    actor,
    action: input.action,
    resourceType: input.resourceType,
    resourceId: input.resourceId,
    requestId: input.requestId ?? '',
    reason: input.reason ?? '',
    ...(input.details && { details: input.details }),
    traceId: trace.getActiveSpan()?.spanContext().traceId ?? '',
  });
}

function auditRowOf(entry: AuditEntry): Omit<AuditEntryRow, 'seq'> {
  return {
    auditEntryId: entry.auditEntryId,
    tenantId: entry.tenantId,
    occurredAt: entry.occurredAt ? timestampDate(entry.occurredAt) : new Date(),
    actor: entry.actor,
    action: entry.action,
    resourceType: ResourceType[entry.resourceType],
    resourceId: entry.resourceId,
    requestId: entry.requestId,
    reason: entry.reason,
    details: entry.details ?? {},
    traceId: entry.traceId,
  };
}

function outboxRowOf({ topic, message }: Queued): Omit<OutboxRow, 'id'> {
  const eventId = topic.eventId?.(message);
  if (eventId === undefined || eventId === '') {
    // Consumers deduplicate by event id, and a relay that crashes after publishing republishes:
    // an event without one would be seen twice.
    throw new UnderstudyError(
      ErrorCode.Internal,
      `${topic.name}: an outbox event needs meta.event_id`,
    );
  }
  return {
    topic: topic.name,
    key: topic.key.of(message),
    eventId,
    payload: Buffer.from(toBinary(topic.schema, message)),
    createdAt: new Date(),
  };
}
