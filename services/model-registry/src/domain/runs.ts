import { clone, create } from '@bufbuild/protobuf';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import {
  TrainingRunSchema,
  TrainingRunState,
  TrainingRunTransitionSchema,
  type TrainingRun,
  type TrainingRunEvent,
  type TrainingRunTransition,
} from '@understudy/contracts';

/*
 * A training run as its events tell it. Events may arrive twice or out of order (a requested
 * after the failure it led to), so the state is not overwritten event by event: every event adds
 * the transition it stands for to the run's history, kept in time order, and the state is that of
 * the newest transition.
 */

/** The run after one of its events; `run` itself is left as it was. */
export function evolveRun(run: TrainingRun, event: TrainingRunEvent): TrainingRun {
  const at = event.meta?.occurredAt;
  const { kind } = event;
  switch (kind.case) {
    case 'requested': {
      const requested = kind.value.run;
      if (requested === undefined) return clone(TrainingRunSchema, run);
      // What earlier-arriving events recorded survives the request's copy of the run.
      const next = create(TrainingRunSchema, {
        ...requested,
        tenantId: run.tenantId,
        ...(run.state === TrainingRunState.UNSPECIFIED ? {} : recorded(run)),
        history: [...run.history, ...requested.history],
      });
      const queuedAt = requested.createdAt ?? at;
      return settle(next, transition(TrainingRunState.QUEUED, queuedAt, 0));
    }
    case 'started': {
      const next = clone(TrainingRunSchema, run);
      const { attempt, jobName, logs } = kind.value;
      // A late start of an earlier attempt does not replace the latest attempt's job.
      if (attempt >= run.attempt) {
        next.attempt = attempt;
        next.jobName = jobName;
        if (logs) next.logs = logs;
        if (at) next.startedAt = at;
      }
      return settle(next, transition(TrainingRunState.RUNNING, at, attempt));
    }
    case 'progress': {
      const next = clone(TrainingRunSchema, run);
      if (kind.value.progress) next.progress = kind.value.progress;
      // Progress means running even when the start was missed; a start already recorded wins.
      return settle(next, transition(TrainingRunState.RUNNING, at, 0));
    }
    case 'succeeded': {
      const next = clone(TrainingRunSchema, run);
      if (kind.value.adapter) next.adapter = kind.value.adapter;
      next.metrics = { ...kind.value.metrics };
      if (at) next.finishedAt = at;
      return settle(next, transition(TrainingRunState.SUCCEEDED, at, 0));
    }
    case 'failed': {
      const next = clone(TrainingRunSchema, run);
      next.failure = kind.value;
      if (at) next.finishedAt = at;
      return settle(next, transition(TrainingRunState.FAILED, at, 0, kind.value.reason));
    }
    case 'cancelled': {
      const next = clone(TrainingRunSchema, run);
      if (at) next.finishedAt = at;
      return settle(next, transition(TrainingRunState.CANCELLED, at, 0, kind.value.reason));
    }
    case undefined:
      return clone(TrainingRunSchema, run);
  }
}

function transition(
  state: TrainingRunState,
  at: Timestamp | undefined,
  attempt: number,
  reason = '',
): TrainingRunTransition {
  return create(TrainingRunTransitionSchema, { state, attempt, reason, ...(at && { at }) });
}

/** Adds `added` to the run's history and takes the state of the newest transition. */
function settle(run: TrainingRun, added: TrainingRunTransition): TrainingRun {
  run.history = historyOf([...run.history, added]);
  run.state = run.history.at(-1)?.state ?? run.state;
  return run;
}

/** Progress through a run's life, for transitions at the same time. */
const stageOf = (state: TrainingRunState): number =>
  state === TrainingRunState.UNSPECIFIED
    ? 0
    : state === TrainingRunState.QUEUED
      ? 1
      : state === TrainingRunState.RUNNING
        ? 2
        : 3;

/** Nanoseconds since the epoch; a transition of unknown time sorts after every known one. */
const instantOf = (transition: TrainingRunTransition): bigint =>
  transition.at === undefined
    ? BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000_000n
    : transition.at.seconds * 1_000_000_000n + BigInt(transition.at.nanos);

/**
 * Transitions in time order, without repeats: a redelivered event and the RUNNING that progress
 * implies add nothing to what is recorded.
 */
function historyOf(transitions: readonly TrainingRunTransition[]): TrainingRunTransition[] {
  const sorted = [...transitions].sort((a, b) => {
    const [x, y] = [instantOf(a), instantOf(b)];
    return x === y ? stageOf(a.state) - stageOf(b.state) : x < y ? -1 : 1;
  });
  const folded: TrainingRunTransition[] = [];
  for (const item of sorted) {
    const last = folded.at(-1);
    if (last !== undefined && repeats(last, item)) {
      if (last.reason === '') last.reason = item.reason;
    } else {
      folded.push(clone(TrainingRunTransitionSchema, item));
    }
  }
  // Only starts name their attempt; the outcomes after one belong to it. Derived afresh each
  // time, since a start that arrives late can come between an outcome and the start before it.
  folded.forEach((item, index) => {
    if (item.state !== TrainingRunState.QUEUED && item.state !== TrainingRunState.RUNNING) {
      item.attempt = folded[index - 1]?.attempt ?? 0;
    }
  });
  return folded;
}

/** Whether `item` adds nothing to `last`, the transition before it. */
function repeats(last: TrainingRunTransition, item: TrainingRunTransition): boolean {
  if (last.state !== item.state) return false;
  // Progress (attempt 0) continues the start before it; a start repeats only its own attempt.
  if (item.state === TrainingRunState.RUNNING) {
    return item.attempt === 0 || item.attempt === last.attempt;
  }
  return instantOf(last) === instantOf(item);
}

/** What the run's later events recorded, which the request's copy of the run lacks. */
function recorded(run: TrainingRun): Partial<TrainingRun> {
  return {
    state: run.state,
    attempt: run.attempt,
    metrics: run.metrics,
    jobName: run.jobName,
    ...(run.logs && { logs: run.logs }),
    ...(run.progress && { progress: run.progress }),
    ...(run.adapter && { adapter: run.adapter }),
    ...(run.failure && { failure: run.failure }),
    ...(run.startedAt && { startedAt: run.startedAt }),
    ...(run.finishedAt && { finishedAt: run.finishedAt }),
  };
}
