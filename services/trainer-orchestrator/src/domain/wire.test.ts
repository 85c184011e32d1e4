import { TrainingRunState } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { runId, succeededRun } from '../testing/runs.js';
import { logsRef, toTrainingRun } from './wire.js';

describe('toTrainingRun', () => {
  it('tells who asked, the executor’s job and where the trainer’s log is', () => {
    expect(toTrainingRun(succeededRun())).toMatchObject({
      runId,
      state: TrainingRunState.SUCCEEDED,
      requestedBy: 'dataset-builder',
      jobName: `trainer-${runId}`,
      logs: {
        bucket: 'understudy',
        key: `training-runs/acme/${runId}/train.log`,
        mediaType: 'text/plain',
      },
      adapter: { sizeBytes: 35_238_016n },
    });
  });
});

describe('logsRef', () => {
  it('keeps a URI outside S3 whole, as adapters do', () => {
    expect(logsRef({ outputUri: 'file:///tmp/runs/r-1' })).toMatchObject({
      bucket: '',
      key: 'file:///tmp/runs/r-1/train.log',
    });
  });
});
