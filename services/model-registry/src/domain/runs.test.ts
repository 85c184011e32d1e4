import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  AdapterArtifactSchema,
  EventMetaSchema,
  TrainingRunEventSchema,
  TrainingRunSchema,
  TrainingRunState,
  type TrainingRunEvent,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { evolveRun } from './runs.js';

const at = timestampFromDate(new Date('2026-02-01T00:00:00Z'));
const event = (kind: TrainingRunEvent['kind']) =>
  create(TrainingRunEventSchema, {
    meta: create(EventMetaSchema, { tenantId: 't', occurredAt: at }),
    runId: 'r',
    taskId: 'task',
    kind,
  });
const empty = create(TrainingRunSchema, { runId: 'r', tenantId: 't', taskId: 'task' });

describe('evolveRun', () => {
  it('follows a run from request to success', () => {
    const requested = evolveRun(
      empty,
      event({
        case: 'requested',
        value: {
          $typeName: 'understudy.v1.TrainingRunRequested',
          run: create(TrainingRunSchema, {
            runId: 'r',
            datasetId: 'd',
            state: TrainingRunState.QUEUED,
          }),
        },
      }),
    );
    expect(requested).toMatchObject({
      tenantId: 't',
      datasetId: 'd',
      state: TrainingRunState.QUEUED,
    });
    const started = evolveRun(
      requested,
      event({
        case: 'started',
        value: { $typeName: 'understudy.v1.TrainingRunStarted', jobName: 'j', attempt: 1 },
      }),
    );
    expect(started).toMatchObject({ state: TrainingRunState.RUNNING, attempt: 1, startedAt: at });
    const adapter = create(AdapterArtifactSchema, { bucket: 'b', prefix: 'p/' });
    const succeeded = evolveRun(
      started,
      event({
        case: 'succeeded',
        value: {
          $typeName: 'understudy.v1.TrainingRunSucceeded',
          adapter,
          metrics: { train_loss: 0.1 },
        },
      }),
    );
    expect(succeeded).toMatchObject({
      state: TrainingRunState.SUCCEEDED,
      adapter,
      metrics: { train_loss: 0.1 },
      finishedAt: at,
      datasetId: 'd',
    });
  });

  it('keeps a later state when the request arrives after it', () => {
    const failed = evolveRun(
      empty,
      event({
        case: 'failed',
        value: { $typeName: 'understudy.v1.TrainingFailure', reason: 'oom', retryable: false },
      }),
    );
    const requested = evolveRun(
      failed,
      event({
        case: 'requested',
        value: {
          $typeName: 'understudy.v1.TrainingRunRequested',
          run: create(TrainingRunSchema, {
            runId: 'r',
            datasetId: 'd',
            state: TrainingRunState.QUEUED,
          }),
        },
      }),
    );
    expect(requested).toMatchObject({
      state: TrainingRunState.FAILED,
      datasetId: 'd',
      failure: { reason: 'oom' },
    });
  });
});
