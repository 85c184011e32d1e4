import { describe, expect, it } from 'vitest';
import { transition, type Run, type RunEvent } from './run.js';

const now = new Date('2026-11-02T10:00:00Z');
const requested: Run = {
  runId: 'r-1',
  requestId: 'q-1',
  requestedBy: 'dataset-builder',
  fingerprint: 'f',
  tenantId: 'acme',
  taskId: 't',
  datasetId: 'd',
  datasetUri: 's3://b/m.json',
  baseModel: 'm',
  hyperParameters: {},
  resources: { accelerator: '', acceleratorCount: 0, queue: '' },
  state: 'requested',
  attempt: 0,
  outputUri: 's3://b/out/',
  metrics: {},
  announced: true,
  createdAt: now,
  version: 1,
};
const progress: RunEvent = {
  type: 'progress',
  progress: { step: 1, totalSteps: 2, loss: 1, epoch: 0.5, reportedAt: now },
};

describe('transition', () => {
  it('walks requested → submitted → running → succeeded', () => {
    const submitted = transition(requested, { type: 'submitted', jobName: 'job' }, now);
    const running = transition(submitted, { type: 'started', attempt: 1 }, now);
    const progressed = transition(running, progress, now);
    const done = transition(
      progressed,
      {
        type: 'succeeded',
        adapterUri: 's3://b/out/adapter/',
        metrics: { loss: 1 },
        result: { files: [], license: 'apache-2.0' },
      },
      now,
    );
    expect([submitted.state, running.state, progressed.state, done.state]).toEqual([
      'submitted',
      'running',
      'running',
      'succeeded',
    ]);
    expect(done).toMatchObject({
      jobName: 'job',
      attempt: 1,
      startedAt: now,
      finishedAt: now,
      progress: { step: 1 },
      result: { license: 'apache-2.0' },
      announced: false,
    });
  });

  it('lets progress start a run whose start went unseen', () => {
    const submitted = transition(requested, { type: 'submitted', jobName: 'job' }, now);
    expect(transition(submitted, progress, now)).toMatchObject({ state: 'running', attempt: 1 });
  });

  it('cancels or fails unfinished runs only', () => {
    const cancelled = transition(requested, { type: 'cancelled', reason: 'no longer needed' }, now);
    expect(cancelled).toMatchObject({ state: 'cancelled', cancelReason: 'no longer needed' });
    for (const event of [
      progress,
      { type: 'cancelled', reason: 'again' },
      { type: 'failed', failure: { reason: 'x', retryable: false } },
    ] satisfies RunEvent[]) {
      expect(() => transition(cancelled, event, now)).toThrow(/is cancelled: cannot apply/);
    }
    expect(() => transition(requested, progress, now)).toThrow(/FAILED_PRECONDITION|cannot/);
  });
});
