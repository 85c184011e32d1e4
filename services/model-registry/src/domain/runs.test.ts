import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  AdapterArtifactSchema,
  EventMetaSchema,
  ObjectRefSchema,
  TrainingProgressSchema,
  TrainingRunEventSchema,
  TrainingRunSchema,
  TrainingRunState,
  type TrainingRun,
  type TrainingRunEvent,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { evolveRun } from './runs.js';

const { QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED } = TrainingRunState;

const time = (minute: number) => timestampFromDate(new Date(Date.UTC(2026, 1, 1, 0, minute)));
const at = time(0);

const event = (kind: TrainingRunEvent['kind'], occurredAt = at) =>
  create(TrainingRunEventSchema, {
    meta: create(EventMetaSchema, { tenantId: 't', occurredAt }),
    runId: 'r',
    taskId: 'task',
    kind,
  });
const empty = create(TrainingRunSchema, { runId: 'r', tenantId: 't', taskId: 'task' });
const logs = create(ObjectRefSchema, { bucket: 'logs', key: 'runs/r/attempt-1.log' });

const requested = (minute = 0) =>
  event(
    {
      case: 'requested',
      value: {
        $typeName: 'understudy.v1.TrainingRunRequested',
        run: create(TrainingRunSchema, {
          runId: 'r',
          datasetId: 'd',
          baseModel: 'tiny',
          requestedBy: 'spiffe://understudy/trainer-orchestrator',
          state: QUEUED,
          createdAt: time(minute),
        }),
      },
    },
    time(minute),
  );
const started = (minute: number, attempt: number) =>
  event(
    {
      case: 'started',
      value: {
        $typeName: 'understudy.v1.TrainingRunStarted',
        jobName: `train-r-${String(attempt)}`,
        attempt,
        logs: create(ObjectRefSchema, { ...logs, key: `runs/r/attempt-${String(attempt)}.log` }),
      },
    },
    time(minute),
  );
const progressed = (minute: number) =>
  event(
    {
      case: 'progress',
      value: {
        $typeName: 'understudy.v1.TrainingRunProgressed',
        progress: create(TrainingProgressSchema, { step: 5, totalSteps: 10 }),
      },
    },
    time(minute),
  );
const failed = (minute: number, retryable = false) =>
  event(
    {
      case: 'failed',
      value: { $typeName: 'understudy.v1.TrainingFailure', reason: 'oom', retryable },
    },
    time(minute),
  );
const succeeded = (minute: number) =>
  event(
    {
      case: 'succeeded',
      value: {
        $typeName: 'understudy.v1.TrainingRunSucceeded',
        adapter: create(AdapterArtifactSchema, { bucket: 'b', prefix: 'p/' }),
        metrics: { train_loss: 0.1 },
      },
    },
    time(minute),
  );

function* permutations<T>(items: readonly T[]): Generator<T[]> {
  if (items.length <= 1) {
    yield [...items];
    return;
  }
  for (const [index, item] of items.entries()) {
    const rest = items.filter((_, other) => other !== index);
    for (const tail of permutations(rest)) yield [item, ...tail];
  }
}

const replay = (events: readonly TrainingRunEvent[], from: TrainingRun = empty) =>
  events.reduce(evolveRun, from);
const historyOf = (run: TrainingRun) =>
  run.history.map((step) => [step.state, step.attempt, step.at?.seconds, step.reason]);

describe('evolveRun', () => {
  it('follows a run from request to success, recording each state change', () => {
    const run = replay([requested(0), started(1, 1), progressed(2), succeeded(3)]);
    expect(run).toMatchObject({
      tenantId: 't',
      datasetId: 'd',
      requestedBy: 'spiffe://understudy/trainer-orchestrator',
      state: SUCCEEDED,
      attempt: 1,
      jobName: 'train-r-1',
      logs: { key: 'runs/r/attempt-1.log' },
      startedAt: time(1),
      finishedAt: time(3),
      metrics: { train_loss: 0.1 },
      adapter: { bucket: 'b', prefix: 'p/' },
      progress: { step: 5 },
    });
    expect(historyOf(run)).toEqual([
      [QUEUED, 0, time(0).seconds, ''],
      [RUNNING, 1, time(1).seconds, ''],
      [SUCCEEDED, 1, time(3).seconds, ''],
    ]);
  });

  it('records nothing twice when events are redelivered', () => {
    const events = [requested(0), started(1, 1), failed(2)];
    const once = replay(events);
    expect(replay([...events, ...events])).toEqual(once);
    expect(historyOf(once)).toEqual([
      [QUEUED, 0, time(0).seconds, ''],
      [RUNNING, 1, time(1).seconds, ''],
      [FAILED, 1, time(2).seconds, 'oom'],
    ]);
  });

  it('ends in the same state and history whatever order the events arrive in', () => {
    const events = [requested(0), started(1, 1), progressed(2), failed(3, true)].concat([
      started(4, 2),
      progressed(5),
      succeeded(6),
    ]);
    const inOrder = replay(events);
    expect(historyOf(inOrder).map(([state, attempt]) => [state, attempt])).toEqual([
      [QUEUED, 0],
      [RUNNING, 1],
      [FAILED, 1],
      [RUNNING, 2],
      [SUCCEEDED, 2],
    ]);
    // Every order of the seven events: redeliveries aside, Kafka keeps a run's events in order,
    // but a producer that retries may not.
    for (const shuffled of permutations(events)) {
      const run = replay(shuffled);
      expect(run.state).toBe(SUCCEEDED);
      expect(run.history).toEqual(inOrder.history);
      // The latest attempt's job, even when an earlier attempt's start arrived last.
      expect(run).toMatchObject({ attempt: 2, jobName: 'train-r-2', datasetId: 'd' });
    }
  });

  it('keeps a later state when the request arrives after it', () => {
    const run = replay([failed(1), requested(0)]);
    expect(run).toMatchObject({ state: FAILED, datasetId: 'd', failure: { reason: 'oom' } });
    expect(historyOf(run).map(([state]) => state)).toEqual([QUEUED, FAILED]);
  });

  it('counts progress as running only until the start is recorded', () => {
    const run = replay([requested(0), progressed(2), started(1, 1)]);
    expect(run.state).toBe(RUNNING);
    expect(historyOf(run)).toEqual([
      [QUEUED, 0, time(0).seconds, ''],
      [RUNNING, 1, time(1).seconds, ''],
    ]);
  });

  it('records why a run was cancelled', () => {
    const run = replay([
      requested(0),
      event(
        {
          case: 'cancelled',
          value: { $typeName: 'understudy.v1.TrainingRunCancelled', reason: 'superseded' },
        },
        time(1),
      ),
    ]);
    expect(run.state).toBe(CANCELLED);
    expect(run.history.at(-1)).toMatchObject({ state: CANCELLED, reason: 'superseded' });
  });
});
