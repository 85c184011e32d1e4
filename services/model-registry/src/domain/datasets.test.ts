import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  DatasetSchema,
  ObjectRefSchema,
  TimeWindowSchema,
  type Dataset,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { checkDataset } from './datasets.js';

const sha256 = 'ab'.repeat(32);
const ref = (key: string) => create(ObjectRefSchema, { bucket: 'datasets', key, sha256 });
const day = (date: number) => timestampFromDate(new Date(Date.UTC(2026, 0, date)));

/** A dataset as the dataset builder sends it. */
const built = create(DatasetSchema, {
  datasetId: 'ds-1',
  tenantId: 't',
  taskId: 'task',
  train: ref('t/task/ds-1/train.jsonl'),
  eval: ref('t/task/ds-1/eval.jsonl'),
  manifest: ref('t/task/ds-1/manifest.json'),
  sourceWindow: create(TimeWindowSchema, { startTime: day(1), endTime: day(8) }),
});

function faults(dataset: Dataset): unknown {
  try {
    checkDataset(dataset);
    return [];
  } catch (error) {
    if (!(error instanceof UnderstudyError)) throw error;
    expect(error.code).toBe(ErrorCode.InvalidArgument);
    return error.details['fields'];
  }
}

describe('checkDataset', () => {
  it('accepts what the dataset builder sends', () => {
    expect(faults(built)).toEqual([]);
    expect(faults(create(DatasetSchema, { ...built, manifest: undefined }))).toEqual([]);
  });

  it('names every field at fault', () => {
    expect(
      faults(
        create(DatasetSchema, {
          ...built,
          train: create(ObjectRefSchema, { bucket: 'datasets', key: 'train.jsonl' }),
          eval: undefined,
          manifest: create(ObjectRefSchema, { key: 'm.json', sha256: sha256.toUpperCase() }),
          sourceWindow: undefined,
        }),
      ),
    ).toEqual([
      'dataset.train.sha256',
      'dataset.eval',
      'dataset.manifest.bucket',
      'dataset.manifest.sha256',
      'dataset.source_window',
    ]);
  });

  it('wants a source window that ends after it starts', () => {
    const window = (startTime = day(8), endTime = day(1)) =>
      create(DatasetSchema, {
        ...built,
        sourceWindow: create(TimeWindowSchema, { startTime, endTime }),
      });
    expect(faults(window())).toEqual(['dataset.source_window.end_time']);
    expect(faults(window(day(1), day(1)))).toEqual(['dataset.source_window.end_time']);
    expect(
      faults(
        create(DatasetSchema, {
          ...built,
          sourceWindow: create(TimeWindowSchema, { endTime: day(1) }),
        }),
      ),
    ).toEqual(['dataset.source_window.start_time']);
  });
});
