import { randomUUID } from 'node:crypto';
import { create, toJson, type JsonObject } from '@bufbuild/protobuf';
import {
  AdapterArtifactSchema,
  AdapterFormat,
  ModelFootprintSchema,
  ModelStage,
  ModelVersionSchema,
  ResourceType,
  type AdapterArtifact,
  type ModelVersion,
} from '@understudy/contracts';
import { rethrowDatabaseError } from '@understudy/database';
import { topics } from '@understudy/messaging';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { In, type DataSource, type EntityManager } from 'typeorm';
import { digestOf, type ListOrder, type PageRequest } from '../domain/paging.js';
import { stageName } from '../domain/stages.js';
import { maskedFields, notFound, requestReused, requireFields } from '../domain/validation.js';
import { registered, updated } from '../domain/events.js';
import { inChange, type Actor } from './changes.js';
import { DatasetRow, ModelVersionRow, TrainingRunRow } from './entities.js';
import { keysetPage } from './keyset.js';
import { lockModelVersion, lockTask, nextVersion } from './locks.js';
import { etagOf, jsonOf, modelVersionOf } from './mapping.js';

export interface ModelVersionQuery extends PageRequest {
  readonly tenantId: string;
  readonly taskId: string;
  readonly stages: readonly ModelStage[];
}

/** UpdateModelVersion: the version as the caller wants it, and which fields to take from it. */
export interface ModelVersionUpdate {
  /** Names the version (tenant_id, model_version_id), carries its etag and the new values. */
  readonly modelVersion: ModelVersion;
  /** `description`, `labels`; empty for both. */
  readonly paths: readonly string[];
  readonly actor: Actor;
}

const modelVersionOrder: ListOrder<ModelVersionRow> = {
  fields: {
    created_at: { column: 'mv.createdAt', kind: 'timestamp', value: (row) => row.createdAt },
    version: { column: 'mv.version', kind: 'number', value: (row) => row.version },
    updated_at: { column: 'mv.updatedAt', kind: 'timestamp', value: (row) => row.updatedAt },
  },
  fallback: 'created_at desc',
  id: { column: 'mv.modelVersionId', kind: 'text', value: (row) => row.modelVersionId },
};

const updatable = ['description', 'labels'] as const;

/** Model versions: registration, reads, description and labels; PromotionStore moves their stages. */
export class ModelVersionStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Registers a version at REGISTERED; returns it and whether this call created it. */
  async register(
    requestId: string,
    input: ModelVersion,
    actor: Actor,
  ): Promise<{ modelVersion: ModelVersion; created: boolean }> {
    const { tenantId, taskId, runId, datasetId, baseModel } = input;
    requireFields({
      request_id: requestId,
      tenant_id: tenantId,
      task_id: taskId,
      run_id: runId,
      dataset_id: datasetId,
      base_model: baseModel,
    });
    const digest = digestOf(toJson(ModelVersionSchema, input));
    return inChange(this.dataSource, actor, async (manager, log) => {
      await lockTask(manager, tenantId, taskId);
      const repeated = await manager.findOneBy(ModelVersionRow, { tenantId, requestId });
      if (repeated !== null) {
        if (repeated.requestDigest !== digest) throw requestReused(requestId);
        return { modelVersion: modelVersionOf(repeated), created: false };
      }
      await assertLineage(manager, input);
      const modelVersionId = randomUUID();
      const now = new Date();
      const row: ModelVersionRow = {
        tenantId,
        modelVersionId,
        taskId,
        runId,
        datasetId,
        version: await nextVersion(manager, 'model_version', tenantId, taskId),
        baseModel,
        adapter: jsonOf(AdapterArtifactSchema, adapterOf(input.adapter)),
        servingName: `understudy-${modelVersionId}`,
        stage: stageName(ModelStage.REGISTERED),
        trafficPercent: 0,
        metrics: { ...input.metrics },
        description: input.description,
        labels: { ...input.labels },
        requestId,
        requestDigest: digest,
        rowVersion: 1,
        createdAt: now,
        updatedAt: now,
        license: input.license,
        registeredBy: actor,
        footprint: jsonOf(ModelFootprintSchema, input.footprint ?? create(ModelFootprintSchema)),
      };
      await manager.insert(ModelVersionRow, row);
      const modelVersion = modelVersionOf(row);
      log.event(topics.modelVersions, registered(modelVersion));
      log.audit({
        tenantId,
        action: 'RegisterModelVersion',
        resourceType: ResourceType.MODEL_VERSION,
        resourceId: modelVersionId,
        requestId,
        details: { taskId, runId, datasetId, version: row.version, baseModel },
      });
      return { modelVersion, created: true };
    });
  }

  async get(tenantId: string, modelVersionId: string): Promise<ModelVersion> {
    const found = await this.find(tenantId, modelVersionId);
    if (found === undefined) throw notFound('model version', modelVersionId);
    return found;
  }

  async find(tenantId: string, modelVersionId: string): Promise<ModelVersion | undefined> {
    requireFields({ tenant_id: tenantId, model_version_id: modelVersionId });
    const row = await this.dataSource.manager
      .findOneBy(ModelVersionRow, { tenantId, modelVersionId })
      .catch(rethrowDatabaseError);
    return row === null ? undefined : modelVersionOf(row);
  }

  async list(
    query: ModelVersionQuery,
  ): Promise<{ modelVersions: ModelVersion[]; nextPageToken: string }> {
    const { tenantId, taskId } = query;
    requireFields({ tenant_id: tenantId });
    const stages = [...new Set(query.stages.map(stageName))].sort();
    const builder = this.dataSource.manager
      .createQueryBuilder(ModelVersionRow, 'mv')
      .where('mv.tenantId = :tenantId', { tenantId });
    if (taskId !== '') builder.andWhere('mv.taskId = :taskId', { taskId });
    if (stages.length > 0) builder.andWhere('mv.stage IN (:...stages)', { stages });
    const page = await keysetPage(builder, modelVersionOrder, query, { tenantId, taskId, stages });
    return { modelVersions: page.rows.map(modelVersionOf), nextPageToken: page.nextPageToken };
  }

  /** The versions of these tasks, newest first (for lineage). */
  async ofTasks(tenantId: string, taskIds: readonly string[]): Promise<ModelVersion[]> {
    const rows = await this.dataSource.manager
      .find(ModelVersionRow, {
        where: { tenantId, taskId: In([...taskIds]) },
        order: { createdAt: 'DESC', modelVersionId: 'DESC' },
      })
      .catch(rethrowDatabaseError);
    return rows.map(modelVersionOf);
  }

  /**
   * Changes a version's description and labels. A change that changes nothing is no change: no
   * new etag, event or audit entry.
   */
  async update(input: ModelVersionUpdate): Promise<ModelVersion> {
    const { tenantId, modelVersionId, etag } = input.modelVersion;
    requireFields({
      'model_version.tenant_id': tenantId,
      'model_version.model_version_id': modelVersionId,
    });
    const fields = maskedFields(input.paths, updatable);
    return inChange(this.dataSource, input.actor, async (manager, log) => {
      // The task lock, as for stage changes: the two then never interleave their etag bumps.
      const row = await lockModelVersion(manager, tenantId, modelVersionId);
      assertEtag(row, etag);
      const values: ModelVersionChange = {};
      const changes: JsonObject = {};
      const { description, labels } = input.modelVersion;
      if (fields.has('description') && description !== row.description) {
        changes['description'] = { from: row.description, to: description };
        values.description = description;
      }
      if (fields.has('labels') && digestOf(labels) !== digestOf(row.labels)) {
        changes['labels'] = { from: row.labels, to: { ...labels } };
        values.labels = { ...labels };
      }
      if (Object.keys(changes).length === 0) return modelVersionOf(row);
      const modelVersion = await saveModelVersion(manager, row, values);
      log.event(topics.modelVersions, updated(modelVersion));
      log.audit({
        tenantId,
        action: 'UpdateModelVersion',
        resourceType: ResourceType.MODEL_VERSION,
        resourceId: modelVersionId,
        details: changes,
      });
      return modelVersion;
    });
  }
}

/** What may change of a version after registration. */
export type ModelVersionChange = Partial<
  Pick<ModelVersionRow, 'stage' | 'trafficPercent' | 'description' | 'labels'>
>;

/**
 * Writes `change` to a version its caller holds under the task lock, with a new etag (row
 * version); returns the version as it now is.
 */
export async function saveModelVersion(
  manager: EntityManager,
  row: ModelVersionRow,
  change: ModelVersionChange,
): Promise<ModelVersion> {
  Object.assign(row, change);
  row.rowVersion += 1;
  row.updatedAt = new Date();
  await manager.update(
    ModelVersionRow,
    { tenantId: row.tenantId, modelVersionId: row.modelVersionId },
    { ...change, rowVersion: row.rowVersion, updatedAt: row.updatedAt },
  );
  return modelVersionOf(row);
}

/** An etag given (not empty) must be the version's current one; ABORTED otherwise. */
export function assertEtag(row: ModelVersionRow, etag: string): void {
  if (etag !== '' && etag !== etagOf(row.rowVersion)) {
    throw new UnderstudyError(
      ErrorCode.Aborted,
      `model version ${row.modelVersionId} changed since it was read (etag ${etag}, now ${etagOf(row.rowVersion)})`,
      { retryable: false },
    );
  }
}

/**
 * The adapter as registered: its size is that of its files, and its format PEFT LoRA unless
 * named, the only format Understudy's trainer writes and its serving loads.
 */
function adapterOf(adapter: AdapterArtifact | undefined): AdapterArtifact {
  const registered = create(AdapterArtifactSchema, adapter ?? {});
  registered.sizeBytes = registered.files.reduce((sum, file) => sum + file.sizeBytes, 0n);
  if (registered.format === AdapterFormat.UNSPECIFIED) {
    registered.format = AdapterFormat.PEFT_LORA_SAFETENSORS;
  }
  return registered;
}

/**
 * The version's lineage must agree with what the registry knows: its dataset exists for the
 * tenant and belongs to the same task, and its run, where recorded, trained that task on that
 * dataset (the run view may lag behind its events, so an unknown run is accepted).
 */
async function assertLineage(manager: EntityManager, input: ModelVersion): Promise<void> {
  const { tenantId, taskId, runId, datasetId } = input;
  const dataset = await manager.findOneBy(DatasetRow, { tenantId, datasetId });
  if (dataset === null) {
    throw new UnderstudyError(
      ErrorCode.FailedPrecondition,
      `dataset ${datasetId} is not registered; create it before registering versions trained on it`,
    );
  }
  if (dataset.taskId !== taskId) {
    throw new UnderstudyError(
      ErrorCode.FailedPrecondition,
      `dataset ${datasetId} belongs to task ${dataset.taskId}, not ${taskId}`,
    );
  }
  const run = await manager.findOneBy(TrainingRunRow, { tenantId, runId });
  if (
    run !== null &&
    (run.taskId !== taskId || (run.datasetId !== '' && run.datasetId !== datasetId))
  ) {
    throw new UnderstudyError(
      ErrorCode.FailedPrecondition,
      `training run ${runId} trained task ${run.taskId} on dataset ${run.datasetId}, not task ${taskId} on ${datasetId}`,
    );
  }
}
