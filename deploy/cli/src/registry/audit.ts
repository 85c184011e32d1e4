import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  ListAuditEntriesResponseSchema,
  ResourceType,
  ResourceTypeSchema,
} from '@understudy/contracts';
import { command } from '../command.js';
import { enumValue } from '../enums.js';
import { UsageError } from '../failure.js';
import { noteMore, pages } from '../paging.js';
import { auditTable } from '../views/audit.js';

const units: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An ISO 8601 time, or an age such as `90m`, `12h` or `7d` before `now`. */
export function parseTime(option: string, text: string, now: Date): Date {
  const age = /^(\d+)([smhd])$/.exec(text.trim());
  if (age !== null) return new Date(now.getTime() - Number(age[1]) * (units[age[2] ?? ''] ?? 0));
  const time = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(time.getTime())) {
    throw new UsageError(
      `--${option} must be an ISO 8601 time or an age like 12h or 7d, not "${text}"`,
    );
  }
  return time;
}

export const audit = command({
  summary: 'Who changed what in the registry, newest first',
  options: {
    'resource-type': {
      type: 'string',
      value: 'TYPE',
      description:
        'task, dataset, training-run, model-version, evaluation, route or promotion-policy',
    },
    resource: { type: 'string', value: 'ID', description: 'Only changes to this resource' },
    actor: { type: 'string', value: 'SUBJECT', description: 'Only changes by this caller' },
    since: {
      type: 'string',
      value: 'TIME',
      description: 'Only changes at or after TIME (ISO 8601, or an age: 12h, 7d)',
    },
    until: { type: 'string', value: 'TIME', description: 'Only changes before TIME' },
  },
  paged: true,
  examples: [
    'understudy registry audit --resource-type model-version --resource 0b7e4c1a-…',
    'understudy registry audit --actor alice --since 7d --all --output json',
  ],
  run: async ({ registry, tenantId, paging, output }, args) => {
    const type = args.string('resource-type');
    const now = new Date();
    const since = args.string('since');
    const until = args.string('until');
    const request = {
      tenantId,
      resourceType:
        type === undefined
          ? ResourceType.UNSPECIFIED
          : enumValue(ResourceTypeSchema, 'resource-type', type),
      resourceId: args.string('resource') ?? '',
      actor: args.string('actor') ?? '',
      ...((since !== undefined || until !== undefined) && {
        window: {
          ...(since !== undefined && {
            startTime: timestampFromDate(parseTime('since', since, now)),
          }),
          ...(until !== undefined && {
            endTime: timestampFromDate(parseTime('until', until, now)),
          }),
        },
      }),
    };
    const response = await pages(
      paging,
      (page) => registry.listAuditEntries({ ...request, ...page }),
      (into, next) => into.auditEntries.push(...next.auditEntries),
    );
    output.print(ListAuditEntriesResponseSchema, response, (r, layout) =>
      auditTable(r.auditEntries, layout),
    );
    noteMore(output, response);
  },
});
