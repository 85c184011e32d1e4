import { ResourceTypeSchema, type AuditEntry } from '@understudy/contracts';
import { table } from '../format/table.js';
import { enumLabel, isoTime, none } from '../format/values.js';
import type { Layout } from '../output.js';

function details(entry: AuditEntry): string {
  return entry.details === undefined ? none : JSON.stringify(entry.details);
}

export function auditTable(entries: readonly AuditEntry[], layout: Layout): string {
  if (entries.length === 0) return 'No audit entries.\n';
  return table(
    entries,
    [
      { header: 'time', value: (e) => isoTime(e.occurredAt) },
      { header: 'actor', value: (e) => e.actor || none, max: 24 },
      { header: 'action', value: (e) => e.action },
      {
        header: 'resource',
        value: (e) => `${enumLabel(ResourceTypeSchema, e.resourceType)}/${e.resourceId}`,
      },
      { header: 'reason', value: (e) => e.reason || none, max: 32 },
      { header: 'details', value: details, max: 60 },
    ],
    layout,
  );
}
