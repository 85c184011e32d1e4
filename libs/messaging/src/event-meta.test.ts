import { timestampDate } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { derivedUuid, eventMeta } from './event-meta.js';

describe('derivedUuid', () => {
  it('is the same UUID (version 8, RFC variant) for the same name, another for another', () => {
    const id = derivedUuid('clusterer:task-1:3');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(derivedUuid('clusterer:task-1:3')).toBe(id);
    expect(derivedUuid('clusterer:task-1:4')).not.toBe(id);
  });
});

describe('eventMeta', () => {
  it('fills the header, a random id and now by default', () => {
    const before = Date.now();
    const meta = eventMeta({ tenantId: 'acme', producer: 'registry' });
    expect(meta).toMatchObject({ tenantId: 'acme', producer: 'registry', causationId: '' });
    expect(meta.eventId).not.toBe(eventMeta({ tenantId: 'acme', producer: 'registry' }).eventId);
    const at = meta.occurredAt === undefined ? 0 : timestampDate(meta.occurredAt).getTime();
    expect(at).toBeGreaterThanOrEqual(before - 1);
  });

  it('keeps a given id, time and cause', () => {
    const occurredAt = new Date('2026-11-02T10:00:00Z');
    const meta = eventMeta({
      tenantId: 'acme',
      producer: 'embedder',
      eventId: 'e-1',
      occurredAt,
      causationId: 'c-1',
    });
    expect(meta).toMatchObject({ eventId: 'e-1', causationId: 'c-1' });
    expect(meta.occurredAt && timestampDate(meta.occurredAt)).toEqual(occurredAt);
  });
});
