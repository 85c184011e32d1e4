import {
  AdapterFormatSchema,
  ModelStage,
  ModelStageSchema,
  type ModelVersion,
} from '@understudy/contracts';
import { sheet, table } from '../format/table.js';
import {
  bytes,
  count,
  enumLabel,
  isoTime,
  labels,
  metrics,
  none,
  percent,
} from '../format/values.js';
import type { Layout } from '../output.js';

/** `canary 10%`: the share matters only where a stage takes part of the traffic. */
export function stageOf(version: Pick<ModelVersion, 'stage' | 'trafficPercent'>): string {
  const stage = enumLabel(ModelStageSchema, version.stage);
  const partial = version.stage === ModelStage.SHADOW || version.stage === ModelStage.CANARY;
  return partial ? `${stage} ${percent(version.trafficPercent)}` : stage;
}

export function modelVersionTable(versions: readonly ModelVersion[], layout: Layout): string {
  if (versions.length === 0) return 'No model versions.\n';
  return table(
    versions,
    [
      { header: 'model version', value: (v) => v.modelVersionId },
      { header: 'task', value: (v) => v.taskId },
      { header: 'ver', value: (v) => String(v.version), align: 'right' },
      { header: 'stage', value: stageOf },
      { header: 'base model', value: (v) => v.baseModel || none, max: 32 },
      { header: 'metrics', value: (v) => metrics(v.metrics), max: 40 },
      { header: 'created', value: (v) => isoTime(v.createdAt) },
    ],
    layout,
  );
}

export function modelVersionSheet(version: ModelVersion): string {
  const adapter = version.adapter;
  const footprint = version.footprint;
  return sheet([
    ['Model version', version.modelVersionId],
    ['Tenant', version.tenantId],
    ['Task', version.taskId],
    ['Version', String(version.version)],
    ['Stage', stageOf(version)],
    ['Base model', version.baseModel],
    ['Serving name', version.servingName],
    ['Training run', version.runId],
    ['Dataset', version.datasetId],
    ['Adapter', adapter && `s3://${adapter.bucket}/${adapter.prefix}`],
    ['  format', adapter && enumLabel(AdapterFormatSchema, adapter.format)],
    ['  size', adapter && bytes(adapter.sizeBytes)],
    ['  files', adapter && String(adapter.files.length)],
    ['License', version.license],
    [
      'Footprint',
      footprint &&
        `base ${count(footprint.baseParameterCount)} params, adapter ${count(footprint.adapterParameterCount)} params, ` +
          `serving memory ${bytes(footprint.servingMemoryBytes)}${footprint.dtype === '' ? '' : `, ${footprint.dtype}`}`,
    ],
    ['Metrics', metrics(version.metrics)],
    ['Labels', labels(version.labels)],
    ['Description', version.description],
    ['Registered by', version.registeredBy],
    ['Created', isoTime(version.createdAt)],
    ['Updated', isoTime(version.updatedAt)],
    ['Etag', version.etag],
  ]);
}
