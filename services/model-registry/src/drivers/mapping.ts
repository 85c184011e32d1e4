import {
  create,
  fromJson,
  toJson,
  type DescMessage,
  type JsonValue,
  type MessageShape,
} from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  AdapterArtifactSchema,
  DatasetSchema,
  FallbackPolicySchema,
  ModelFootprintSchema,
  ModelVersionSchema,
  RouteSchema,
  TaskSchema,
  TrainingRunSchema,
  type Dataset,
  type ModelVersion,
  type Route,
  type Task,
  type TrainingRun,
} from '@understudy/contracts';
import { stageOf } from '../domain/stages.js';
import type { DatasetRow, ModelVersionRow, RouteRow, TaskRow, TrainingRunRow } from './entities.js';

/*
 * Rows ↔ messages. JSONB columns hold proto JSON, which keeps field names stable and readable
 * in SQL; the registry never writes them in any other form.
 */

/** JSONB as TypeORM types it; proto JSON parsing validates it. */
const json = (value: object): JsonValue => value as JsonValue;

/** A message as a JSONB value: proto JSON of a message is always an object. */
export function jsonOf<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
): object {
  return toJson(schema, message) as object;
}

export const etagOf = (rowVersion: number): string => `v${String(rowVersion)}`;

export function taskOf(row: TaskRow): Task {
  return fromJson(TaskSchema, json(row.body));
}

export function trainingRunOf(row: TrainingRunRow): TrainingRun {
  return fromJson(TrainingRunSchema, json(row.body));
}

export function datasetOf(row: DatasetRow): Dataset {
  return fromJson(DatasetSchema, json(row.body));
}

export function modelVersionOf(row: ModelVersionRow): ModelVersion {
  return create(ModelVersionSchema, {
    modelVersionId: row.modelVersionId,
    tenantId: row.tenantId,
    taskId: row.taskId,
    runId: row.runId,
    datasetId: row.datasetId,
    version: row.version,
    baseModel: row.baseModel,
    adapter: fromJson(AdapterArtifactSchema, json(row.adapter)),
    servingName: row.servingName,
    stage: stageOf(row.stage),
    trafficPercent: row.trafficPercent,
    metrics: row.metrics,
    description: row.description,
    labels: row.labels,
    requestId: row.requestId,
    createdAt: timestampFromDate(row.createdAt),
    updatedAt: timestampFromDate(row.updatedAt),
    etag: etagOf(row.rowVersion),
    license: row.license,
    registeredBy: row.registeredBy,
    // Versions registered without one (and before the field existed) have none.
    ...(Object.keys(row.footprint).length > 0 && {
      footprint: fromJson(ModelFootprintSchema, json(row.footprint)),
    }),
  });
}

export function routeOf(row: RouteRow): Route {
  return create(RouteSchema, {
    routeId: row.routeId,
    tenantId: row.tenantId,
    taskId: row.taskId,
    modelVersionId: row.modelVersionId,
    endpoint: row.endpoint,
    servingName: row.servingName,
    stage: stageOf(row.stage),
    trafficPercent: row.trafficPercent,
    minConfidence: row.minConfidence,
    fallback: fromJson(FallbackPolicySchema, json(row.fallback)),
    updatedAt: timestampFromDate(row.updatedAt),
    etag: etagOf(row.rowVersion),
  });
}

export function routesJson(routes: readonly Route[]): object {
  return routes.map((route) => toJson(RouteSchema, route));
}

export function routesOf(value: object): Route[] {
  const items = Array.isArray(value) ? (value as JsonValue[]) : [];
  return items.map((item) => fromJson(RouteSchema, item));
}

export function dateOf(timestamp: Parameters<typeof timestampDate>[0] | undefined): Date {
  return timestamp === undefined ? new Date() : timestampDate(timestamp);
}
