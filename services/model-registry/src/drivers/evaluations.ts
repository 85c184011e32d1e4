import { randomUUID } from 'node:crypto';
import { create, fromJson, toJson, type JsonValue } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  DatasetSplit,
  EvaluationKind,
  EvaluationSchema,
  EvaluationVerdict,
  ResourceType,
  type Evaluation,
} from '@understudy/contracts';
import { rethrowDatabaseError } from '@understudy/database';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { topics } from '@understudy/messaging';
import type { DataSource, EntityManager } from 'typeorm';
import { evaluated } from '../domain/events.js';
import { digestOf, type ListOrder, type PageRequest } from '../domain/paging.js';
import { notFound, requestReused, requireFields } from '../domain/validation.js';
import { inChange, type Actor } from './changes.js';
import { DatasetRow, EvaluationRow } from './entities.js';
import { keysetPage } from './keyset.js';
import { lockModelVersion } from './locks.js';
import { jsonOf } from './mapping.js';

export interface EvaluationQuery extends PageRequest {
  readonly tenantId: string;
  /** Empty matches every version. */
  readonly modelVersionId: string;
  /** UNSPECIFIED matches every kind. */
  readonly kind: EvaluationKind;
}

/** Kinds as stored: readable in SQL, independent of proto enum numbers. */
const kindNames = {
  [EvaluationKind.OFFLINE]: 'offline',
  [EvaluationKind.SHADOW]: 'shadow',
} as const;

function kindName(kind: EvaluationKind): EvaluationRow['kind'] {
  if (kind !== EvaluationKind.OFFLINE && kind !== EvaluationKind.SHADOW) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'kind must be OFFLINE or SHADOW');
  }
  return kindNames[kind];
}

const evaluationOrder: ListOrder<EvaluationRow> = {
  fields: {
    created_at: { column: 'e.createdAt', kind: 'timestamp', value: (row) => row.createdAt },
  },
  fallback: 'created_at desc',
  id: { column: 'e.evaluationId', kind: 'text', value: (row) => row.evaluationId },
};

export function evaluationOf(row: EvaluationRow): Evaluation {
  return fromJson(EvaluationSchema, row.body as JsonValue);
}

/** A version's evaluations, newest first, as read in `manager`'s transaction. */
export async function evaluationsOf(
  manager: EntityManager,
  tenantId: string,
  modelVersionId: string,
): Promise<Evaluation[]> {
  const rows = await manager.find(EvaluationRow, {
    where: { tenantId, modelVersionId },
    order: { createdAt: 'DESC', evaluationId: 'DESC' },
  });
  return rows.map(evaluationOf);
}

/** Evaluations of model versions against the teacher: immutable, created once per request_id. */
export class EvaluationStore {
  constructor(private readonly dataSource: DataSource) {}

  async create(requestId: string, input: Evaluation, actor: Actor): Promise<Evaluation> {
    const { tenantId, modelVersionId } = input;
    requireFields({
      request_id: requestId,
      tenant_id: tenantId,
      model_version_id: modelVersionId,
      evaluator_version: input.evaluatorVersion,
    });
    const kind = kindName(input.kind);
    validate(input);
    const digest = digestOf(toJson(EvaluationSchema, input));
    // Under the version's task lock: guards then read a version's evaluations consistently,
    // and its events keep their order per task.
    return inChange(this.dataSource, actor, async (manager, log) => {
      const version = await lockModelVersion(manager, tenantId, modelVersionId);
      const repeated = await manager.findOneBy(EvaluationRow, { tenantId, requestId });
      if (repeated !== null) {
        if (repeated.requestDigest !== digest) throw requestReused(requestId);
        return evaluationOf(repeated);
      }
      if (input.kind === EvaluationKind.OFFLINE) {
        await assertDatasetOfTask(manager, tenantId, input.datasetId, version.taskId);
      }
      const createdAt = new Date();
      const evaluation = create(EvaluationSchema, {
        ...input,
        evaluationId: randomUUID(),
        requestId,
        createdAt: timestampFromDate(createdAt),
        createdBy: actor,
      });
      await manager.insert(EvaluationRow, {
        tenantId,
        evaluationId: evaluation.evaluationId,
        modelVersionId,
        kind,
        requestId,
        requestDigest: digest,
        body: jsonOf(EvaluationSchema, evaluation),
        createdAt,
      });
      log.event(
        topics.modelVersions,
        evaluated({ tenantId, modelVersionId, taskId: version.taskId }, evaluation),
      );
      log.audit({
        tenantId,
        action: 'CreateEvaluation',
        resourceType: ResourceType.EVALUATION,
        resourceId: evaluation.evaluationId,
        requestId,
        details: {
          modelVersionId,
          kind: EvaluationKind[input.kind],
          split: DatasetSplit[input.split],
          evaluatorVersion: input.evaluatorVersion,
          verdict: EvaluationVerdict[input.verdict],
          metrics: { ...input.metrics },
        },
      });
      return evaluation;
    });
  }

  async get(tenantId: string, evaluationId: string): Promise<Evaluation> {
    requireFields({ tenant_id: tenantId, evaluation_id: evaluationId });
    const row = await this.dataSource.manager
      .findOneBy(EvaluationRow, { tenantId, evaluationId })
      .catch(rethrowDatabaseError);
    if (row === null) throw notFound('evaluation', evaluationId);
    return evaluationOf(row);
  }

  async list(
    query: EvaluationQuery,
  ): Promise<{ evaluations: Evaluation[]; nextPageToken: string }> {
    const { tenantId, modelVersionId, kind } = query;
    requireFields({ tenant_id: tenantId });
    const builder = this.dataSource.manager
      .createQueryBuilder(EvaluationRow, 'e')
      .where('e.tenantId = :tenantId', { tenantId });
    if (modelVersionId !== '') {
      builder.andWhere('e.modelVersionId = :modelVersionId', { modelVersionId });
    }
    if (kind !== EvaluationKind.UNSPECIFIED) {
      builder.andWhere('e.kind = :kind', { kind: kindName(kind) });
    }
    const page = await keysetPage(builder, evaluationOrder, query, {
      tenantId,
      modelVersionId,
      kind,
    });
    return { evaluations: page.rows.map(evaluationOf), nextPageToken: page.nextPageToken };
  }
}

/** Fails with INVALID_ARGUMENT naming what an evaluation lacks or has wrong. */
function validate(input: Evaluation): void {
  if (input.kind === EvaluationKind.OFFLINE) {
    requireFields({ dataset_id: input.datasetId });
    if (input.split === DatasetSplit.UNSPECIFIED) {
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        'an OFFLINE evaluation names the split its metrics are on',
      );
    }
  }
  const bad = Object.entries(input.metrics)
    .filter(([, value]) => !Number.isFinite(value))
    .map(([metric]) => metric);
  if (bad.length > 0) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `metrics must be finite numbers: ${bad.join(', ')}`,
    );
  }
}

/** An offline evaluation is on a dataset the registry holds for the version's task. */
async function assertDatasetOfTask(
  manager: EntityManager,
  tenantId: string,
  datasetId: string,
  taskId: string,
): Promise<void> {
  const dataset = await manager.findOne(DatasetRow, {
    where: { tenantId, datasetId },
    select: { taskId: true },
  });
  if (dataset === null) {
    throw new UnderstudyError(ErrorCode.FailedPrecondition, `dataset ${datasetId} is not recorded`);
  }
  if (dataset.taskId !== taskId) {
    throw new UnderstudyError(
      ErrorCode.FailedPrecondition,
      `dataset ${datasetId} belongs to task ${dataset.taskId}, not to the version's task ${taskId}`,
    );
  }
}
