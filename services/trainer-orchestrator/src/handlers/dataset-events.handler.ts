import { Inject, Injectable } from '@nestjs/common';
import type { DatasetEvent } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { OnMessage, topics } from '@understudy/messaging';
import { InjectConfig } from '@understudy/service';
import { fingerprint } from '../domain/identity.js';
import { Orchestrator } from '../domain/orchestrator.js';
import type { RunSpec } from '../domain/run.js';
import type { TrainerOrchestratorConfig } from '../service.js';

/** A ready dataset starts one training run; a redelivered event finds the run it started. */
@Injectable()
export class DatasetEventsHandler {
  constructor(
    @Inject(Orchestrator) private readonly orchestrator: Orchestrator,
    @InjectConfig() private readonly config: TrainerOrchestratorConfig,
  ) {}

  @OnMessage(topics.datasets, { group: 'trainer-orchestrator' })
  async onDataset(event: DatasetEvent): Promise<void> {
    if (event.kind.case !== 'ready') return;
    const dataset = event.kind.value.dataset;
    const manifest = dataset?.manifest;
    if (dataset === undefined || manifest === undefined || manifest.key === '') {
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        `dataset ${event.datasetId} is ready but names no manifest`,
      );
    }
    const spec: RunSpec = {
      tenantId: dataset.tenantId || (event.meta?.tenantId ?? ''),
      taskId: dataset.taskId || event.taskId,
      datasetId: dataset.datasetId || event.datasetId,
      datasetUri: `s3://${manifest.bucket || this.config.s3.bucket}/${manifest.key}`,
      baseModel: this.config.baseModel,
      hyperParameters: { ...this.config.trainingConfig },
      resources: { accelerator: '', acceleratorCount: 0, queue: '' },
    };
    // Idempotent by dataset and training settings: the same dataset trains once per config.
    await this.orchestrator.submit({
      ...spec,
      requestId: `dataset:${spec.datasetId}:${fingerprint(spec).slice(0, 16)}`,
      // An automated request: by the service that published the dataset (the dataset-builder).
      requestedBy: event.meta?.producer ?? '',
    });
  }
}
