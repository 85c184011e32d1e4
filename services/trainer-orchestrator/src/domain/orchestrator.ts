import { randomUUID } from 'node:crypto';
import { EventEmitter, on } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { TrainingRunEventSchema, type TrainingRunEvent } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { derivedUuid, eventMeta } from '@understudy/messaging';
import { silentLogger, type Logger } from '@understudy/telemetry';
import type { Executor, ExecutorEvent } from '../drivers/executor.js';
import type { ModelRegistry } from '../drivers/model-registry.js';
import type { RunFilter, RunStore } from '../drivers/run-store.js';
import { fingerprint } from './identity.js';
import {
  evaluationRequestId,
  heldOutEvaluation,
  modelVersionOf,
  type MinMetrics,
} from './registration.js';
import { isTerminal, transition, type Run, type RunEvent, type RunSpec } from './run.js';
import { logsRef, toTrainingRun } from './wire.js';

type EventKind = NonNullable<MessageInitShape<typeof TrainingRunEventSchema>['kind']>;

export interface SubmitRequest extends RunSpec {
  readonly requestId: string;
  /**
   * Who asks: the caller's authenticated subject, or for automated requests the service whose
   * event asked (e.g. `dataset-builder`).
   */
  readonly requestedBy: string;
}

export interface OrchestratorOptions {
  readonly store: RunStore;
  readonly executor: Executor;
  readonly registry: ModelRegistry;
  readonly publish: (event: TrainingRunEvent) => Promise<void>;
  /** `producer` of the events: the service name. */
  readonly producer: string;
  /** Where a run's trainer writes, e.g. `s3://bucket/training-runs/<tenant>/<run>/`. */
  readonly outputUri: (tenantId: string, runId: string) => string;
  /** Least time between two published progress events of a run; 0 publishes every one. */
  readonly progressIntervalMs: number;
  /** Minimums for a PASSED verdict on the held-out evaluation; without any, no verdict. */
  readonly evaluationMinMetrics?: MinMetrics;
  /** First delay when driving a run fails retryably; doubles up to a minute. */
  readonly retryDelayMs?: number;
  readonly logger?: Logger;
}

/**
 * Drives training runs: creates them idempotently, submits them to the executor, follows the
 * job to its end, publishes TrainingRunEvents and registers succeeded adapters. State lives in
 * the store, so that after a restart resume() picks every unfinished run up where it was.
 */
export class Orchestrator {
  private readonly logger: Logger;
  private readonly drivers = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private readonly changes = new EventEmitter();
  private readonly lastProgress = new Map<string, number>();
  private closed = false;

  constructor(private readonly options: OrchestratorOptions) {
    this.logger = options.logger ?? silentLogger;
    this.changes.setMaxListeners(0);
  }

  /**
   * Creates the run for a request, or returns the run the request created before. The request's
   * fingerprint leaves out who asked: a retry by another caller is still the same request.
   */
  async submit(request: SubmitRequest): Promise<Run> {
    const { requestId, requestedBy, ...spec } = request;
    const digest = fingerprint(spec);
    const runId = randomUUID();
    const { run, created } = await this.options.store.create({
      ...spec,
      runId,
      requestId,
      requestedBy,
      fingerprint: digest,
      state: 'requested',
      attempt: 0,
      outputUri: this.options.outputUri(spec.tenantId, runId),
      metrics: {},
      announced: true,
      createdAt: new Date(),
      version: 1,
    });
    if (!created) {
      if (run.fingerprint !== digest) {
        throw new UnderstudyError(
          ErrorCode.AlreadyExists,
          `request ${requestId} was already used for another training run`,
          { details: { requestId, runId: run.runId } },
        );
      }
      return run;
    }
    this.logger.info({ runId, taskId: run.taskId, datasetId: run.datasetId }, 'run requested');
    await this.options.publish(
      this.event(run, 'requested', { case: 'requested', value: { run: toTrainingRun(run) } }),
    );
    this.start(run);
    return run;
  }

  async get(tenantId: string, runId: string): Promise<Run> {
    const run = await this.options.store.get(tenantId, runId);
    if (run === undefined) {
      throw new UnderstudyError(ErrorCode.NotFound, `training run ${runId} not found`);
    }
    return run;
  }

  list(filter: RunFilter): Promise<Run[]> {
    return this.options.store.list(filter);
  }

  /** Cancels a queued or running run; a cancelled one is returned as it is. */
  async cancel(tenantId: string, runId: string, reason: string): Promise<Run> {
    let run = await this.get(tenantId, runId);
    for (;;) {
      if (run.state === 'cancelled') return run;
      const next = transition(run, { type: 'cancelled', reason }, new Date());
      try {
        run = await this.options.store.update(next);
        break;
      } catch (error) {
        if (!(error instanceof UnderstudyError && error.code === ErrorCode.Aborted)) throw error;
        run = await this.get(tenantId, runId);
      }
    }
    const driver = this.drivers.get(runId);
    driver?.abort.abort();
    if (run.jobName !== undefined) await this.options.executor.cancel({ name: run.jobName });
    await driver?.done;
    this.changed(run);
    return this.announce(run);
  }

  /** The run now, then after each change, until it has finished or `signal` aborts. */
  async *watch(tenantId: string, runId: string, signal: AbortSignal): AsyncGenerator<Run> {
    let run = await this.get(tenantId, runId);
    yield run;
    const local = on(this.changes, runId, { signal });
    while (!isTerminal(run.state) && !signal.aborted) {
      // Changes made here arrive at once; those of other replicas by polling the store.
      const next = await Promise.race([
        local.next().then(({ value }) => (value as [Run] | undefined)?.[0]),
        sleep(2_000, undefined, { signal }).then(() => this.options.store.get(tenantId, runId)),
      ]).catch(() => undefined);
      if (next === undefined || (next.version === run.version && next.progress === run.progress)) {
        continue;
      }
      run = next;
      yield run;
    }
  }

  /** Drives every run the store still has work for (at boot). */
  async resume(): Promise<void> {
    const pending = await this.options.store.pending();
    if (pending.length > 0) this.logger.info({ runs: pending.length }, 'resuming runs');
    for (const run of pending) this.start(run);
  }

  /** Stops driving (the jobs themselves keep running; resume() picks them up again). */
  async close(): Promise<void> {
    this.closed = true;
    for (const { abort } of this.drivers.values()) abort.abort();
    await Promise.all([...this.drivers.values()].map(({ done }) => done));
  }

  private start(run: Run): void {
    if (this.closed || this.drivers.has(run.runId)) return;
    const abort = new AbortController();
    const done = this.driveWithRetry(run, abort.signal).finally(() => {
      this.drivers.delete(run.runId);
      this.lastProgress.delete(run.runId);
    });
    this.drivers.set(run.runId, { abort, done });
  }

  private async driveWithRetry(run: Run, signal: AbortSignal): Promise<void> {
    let delay = this.options.retryDelayMs ?? 1_000;
    let current = run;
    for (;;) {
      try {
        await this.drive(current, signal);
        return;
      } catch (error) {
        if (signal.aborted) return;
        const retryable = error instanceof UnderstudyError && error.retryable;
        this.logger.error({ err: error, runId: run.runId, retryable }, 'driving the run failed');
        if (!retryable) {
          await this.fail(current.tenantId, current.runId, error).catch((failure: unknown) => {
            this.logger.error({ err: failure, runId: run.runId }, 'cannot record the failure');
          });
          return;
        }
      }
      const waited = await sleep(delay, true, { signal }).catch(() => false);
      if (!waited) return;
      delay = Math.min(delay * 2, 60_000);
      current = await this.get(run.tenantId, run.runId);
    }
  }

  private async drive(start: Run, signal: AbortSignal): Promise<void> {
    let run = start;
    if (run.state === 'requested') {
      const handle = await this.options.executor.submit(run);
      run = await this.apply(run, { type: 'submitted', jobName: handle.name });
      // Cancelled while submitting: the canceller could not know the job yet.
      if (run.state === 'cancelled') await this.options.executor.cancel(handle);
    }
    if (!isTerminal(run.state) && run.jobName !== undefined) {
      for await (const event of this.options.executor.watch({ name: run.jobName }, signal)) {
        run = await this.apply(run, event);
        if (isTerminal(run.state)) break;
      }
    }
    if (signal.aborted) return;
    run = await this.announce(run);
    if (run.state === 'succeeded' && run.modelVersionId === undefined) await this.register(run);
  }

  /**
   * Registers the adapter, then records the trainer's held-out evaluation of it against the
   * dataset's teachers. The version id is stored last: until then a retry repeats both requests,
   * which the registry answers with what it recorded the first time (same request ids, same
   * bodies: the dataset, and so its teachers, never changes).
   */
  private async register(run: Run): Promise<void> {
    const { registry } = this.options;
    const modelVersionId = await registry.registerModelVersion(run.runId, modelVersionOf(run));
    const evaluation = heldOutEvaluation(
      run,
      modelVersionId,
      this.options.evaluationMinMetrics ?? {},
      await registry.teacherModels(run.tenantId, run.datasetId),
    );
    const evaluationId =
      evaluation === undefined
        ? undefined
        : await registry.createEvaluation(evaluationRequestId(run.runId), evaluation);
    this.logger.info(
      { runId: run.runId, modelVersionId, evaluationId },
      'model version registered',
    );
    await this.options.store.update({ ...run, modelVersionId });
  }

  /** Applies an event to the stored run; a run changed meanwhile (cancelled) is reread. */
  private async apply(start: Run, event: RunEvent | ExecutorEvent): Promise<Run> {
    let run = start;
    for (;;) {
      if (isTerminal(run.state)) return run;
      const next = transition(run, event, new Date());
      if (event.type === 'progress' && !this.progressDue(run.runId)) {
        this.changed(next);
        return run;
      }
      try {
        const stored = await this.options.store.update(next);
        this.changed(stored);
        await this.publishChange(stored, event);
        return stored;
      } catch (error) {
        if (!(error instanceof UnderstudyError && error.code === ErrorCode.Aborted)) throw error;
        run = await this.get(run.tenantId, run.runId);
      }
    }
  }

  private progressDue(runId: string): boolean {
    const now = Date.now();
    const last = this.lastProgress.get(runId);
    if (last !== undefined && now - last < this.options.progressIntervalMs) return false;
    this.lastProgress.set(runId, now);
    return true;
  }

  private async publishChange(run: Run, event: RunEvent | ExecutorEvent): Promise<void> {
    if (event.type === 'started') {
      await this.options.publish(
        this.event(run, `started:${String(event.attempt)}`, {
          case: 'started',
          value: { jobName: run.jobName ?? '', attempt: event.attempt, logs: logsRef(run) },
        }),
      );
    } else if (event.type === 'progress') {
      const wire = toTrainingRun(run).progress;
      await this.options.publish(
        this.event(run, `progress:${String(run.attempt)}:${String(event.progress.step)}`, {
          case: 'progress',
          value: { ...(wire !== undefined && { progress: wire }) },
        }),
      );
    }
  }

  /** Publishes the terminal event once (again after a crash: same event id). */
  private async announce(run: Run): Promise<Run> {
    if (run.announced || !isTerminal(run.state)) return run;
    const wire = toTrainingRun(run);
    const kind: EventKind =
      run.state === 'succeeded'
        ? {
            case: 'succeeded',
            value: {
              ...(wire.adapter !== undefined && { adapter: wire.adapter }),
              metrics: wire.metrics,
            },
          }
        : run.state === 'failed'
          ? { case: 'failed', value: run.failure ?? { reason: 'unknown', retryable: false } }
          : { case: 'cancelled', value: { reason: run.cancelReason ?? '' } };
    await this.options.publish(this.event(run, run.state, kind));
    this.logger.info({ runId: run.runId, state: run.state }, 'run finished');
    return this.options.store.update({ ...run, announced: true });
  }

  private async fail(tenantId: string, runId: string, error: unknown): Promise<void> {
    const run = await this.get(tenantId, runId);
    if (isTerminal(run.state)) return;
    const reason = error instanceof Error ? error.message : String(error);
    const failed = await this.options.store.update(
      transition(run, { type: 'failed', failure: { reason, retryable: false } }, new Date()),
    );
    this.changed(failed);
    await this.announce(failed);
  }

  private changed(run: Run): void {
    this.changes.emit(run.runId, run);
  }

  private event(run: Run, fact: string, kind: EventKind): TrainingRunEvent {
    return create(TrainingRunEventSchema, {
      meta: eventMeta({
        tenantId: run.tenantId,
        producer: this.options.producer,
        eventId: derivedUuid(`${run.runId}\u0000${fact}`),
      }),
      runId: run.runId,
      taskId: run.taskId,
      kind,
    });
  }
}
