import { create } from '@bufbuild/protobuf';
import { DurationSchema, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { ModelStage, ModelStageSchema } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { sheet, table, truncate } from './table.js';
import { tree } from './tree.js';
import { bytes, count, duration, enumLabel, isoTime, metrics } from './values.js';

interface Row {
  id: string;
  label: string;
  calls: number;
}

const rows: Row[] = [
  { id: 'a1', label: 'Extract invoice fields as JSON', calls: 1200 },
  { id: 'b22', label: 'Classify\nsupport tickets', calls: 7 },
];

const columns = [
  { header: 'task', value: (r: Row) => r.id },
  { header: 'label', value: (r: Row) => r.label, max: 20 },
  { header: 'calls', value: (r: Row) => String(r.calls), align: 'right' as const },
];

describe('table', () => {
  it('aligns columns under upper-case headers, numbers on the right, cells on one line', () => {
    expect(table(rows, columns)).toBe(
      [
        'TASK  LABEL                 CALLS',
        'a1    Extract invoice fie…   1200',
        'b22   Classify support ti…      7',
        '',
      ].join('\n'),
    );
  });

  it('narrows cuttable columns to fit the terminal but never cuts identifiers', () => {
    const lines = table(
      [{ id: 'an-identifier-that-is-long', label: 'a long label that must shrink', calls: 1 }],
      columns,
      { width: 40 },
    ).split('\n');
    expect(lines[1]).toContain('an-identifier-that-is-long');
    expect(lines.every((line) => line.length <= 40)).toBe(true);
    expect(lines[1]).toMatch(/a lo…\s+1$/);
  });

  it('counts characters as the eye does when cutting', () => {
    expect(truncate('naïve café', 6)).toBe('naïve…');
    expect(truncate('short', 6)).toBe('short');
  });

  it('leaves out sheet entries without a value and marks empty ones', () => {
    expect(
      sheet([
        ['Stage', 'canary 10%'],
        ['Description', ''],
        ['Footprint', undefined],
      ]),
    ).toBe('Stage:        canary 10%\nDescription:  -\n');
  });
});

describe('tree', () => {
  it('draws branches, continuing the rail only under siblings that follow', () => {
    expect(
      tree({
        label: 'task t1',
        children: [
          { label: 'dataset d1', children: [{ label: 'run r1' }, { label: 'run r2' }] },
          { label: 'dataset d2', children: [{ label: 'run r3' }] },
        ],
      }),
    ).toBe(
      [
        'task t1',
        '├─ dataset d1',
        '│  ├─ run r1',
        '│  └─ run r2',
        '└─ dataset d2',
        '   └─ run r3',
        '',
      ].join('\n'),
    );
  });
});

describe('values', () => {
  it('names enum values in lower case without their prefix, unset as a dash', () => {
    expect(enumLabel(ModelStageSchema, ModelStage.CANARY)).toBe('canary');
    expect(enumLabel(ModelStageSchema, ModelStage.UNSPECIFIED)).toBe('-');
    expect(enumLabel(ModelStageSchema, 42)).toBe('42');
  });

  it('prints times as ISO 8601 to the second', () => {
    expect(isoTime(timestampFromDate(new Date('2026-03-01T12:34:56.789Z')))).toBe(
      '2026-03-01T12:34:56Z',
    );
    expect(isoTime(undefined)).toBe('-');
  });

  it('prints metrics by name, sizes, counts and durations compactly', () => {
    expect(metrics({ json_valid: 1, exact_match: 0.912345 })).toBe(
      'exact_match=0.9123 json_valid=1',
    );
    expect(bytes(1536n)).toBe('1.5 KiB');
    expect(bytes(0n)).toBe('-');
    expect(count(494_000_000n)).toBe('494M');
    expect(duration(create(DurationSchema, { seconds: 1n, nanos: 250_000_000 }))).toBe('1.25s');
    expect(duration(create(DurationSchema, { nanos: 80_000_000 }))).toBe('80ms');
  });
});
