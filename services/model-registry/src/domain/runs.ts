import { create } from '@bufbuild/protobuf';
import {
  TrainingRunSchema,
  TrainingRunState,
  type TrainingRun,
  type TrainingRunEvent,
} from '@understudy/contracts';

/** The run after one of its events. */
export function evolveRun(run: TrainingRun, event: TrainingRunEvent): TrainingRun {
  const next = create(TrainingRunSchema, run);
  const at = event.meta?.occurredAt;
  const { kind } = event;
  switch (kind.case) {
    case 'requested': {
      const requested = kind.value.run;
      if (requested === undefined) return next;
      // A later event may have arrived first: keep the state it recorded.
      const keep = run.state === TrainingRunState.UNSPECIFIED ? {} : pickProgress(run);
      return create(TrainingRunSchema, { ...requested, tenantId: run.tenantId, ...keep });
    }
    case 'started':
      next.state = TrainingRunState.RUNNING;
      next.attempt = kind.value.attempt;
      if (at) next.startedAt = at;
      return next;
    case 'progress':
      if (kind.value.progress) next.progress = kind.value.progress;
      if (next.state === TrainingRunState.UNSPECIFIED || next.state === TrainingRunState.QUEUED) {
        next.state = TrainingRunState.RUNNING;
      }
      return next;
    case 'succeeded':
      next.state = TrainingRunState.SUCCEEDED;
      if (kind.value.adapter) next.adapter = kind.value.adapter;
      next.metrics = { ...kind.value.metrics };
      if (at) next.finishedAt = at;
      return next;
    case 'failed':
      next.state = TrainingRunState.FAILED;
      next.failure = kind.value;
      if (at) next.finishedAt = at;
      return next;
    case 'cancelled':
      next.state = TrainingRunState.CANCELLED;
      if (at) next.finishedAt = at;
      return next;
    case undefined:
      return next;
  }
}

function pickProgress(run: TrainingRun): Partial<TrainingRun> {
  return {
    state: run.state,
    attempt: run.attempt,
    metrics: run.metrics,
    ...(run.progress && { progress: run.progress }),
    ...(run.adapter && { adapter: run.adapter }),
    ...(run.failure && { failure: run.failure }),
    ...(run.startedAt && { startedAt: run.startedAt }),
    ...(run.finishedAt && { finishedAt: run.finishedAt }),
  };
}
