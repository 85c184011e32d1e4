import { randomUUID } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  ApprovalSchema,
  ApproveModelVersionResponseSchema,
  ModelStage,
  ResourceType,
  type Approval,
  type ApproveModelVersionResponse,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { topics } from '@understudy/messaging';
import type { DataSource, EntityManager } from 'typeorm';
import { approved } from '../domain/events.js';
import { servingStages, stageName, stageOf } from '../domain/stages.js';
import { requireFields } from '../domain/validation.js';
import { inChange, type Actor } from './changes.js';
import { ApprovalRow } from './entities.js';
import { lockModelVersion } from './locks.js';
import { etagOf } from './mapping.js';
import { loggedRequest, remember, replayed } from './request-log.js';

export interface ApprovalInput {
  readonly requestId: string;
  readonly tenantId: string;
  readonly modelVersionId: string;
  readonly targetStage: ModelStage;
  /** The version's etag as reviewed; the approval holds for that version only. */
  readonly etag: string;
  readonly comment: string;
  /** The approver. */
  readonly actor: Actor;
}

export function approvalOf(row: ApprovalRow): Approval {
  return create(ApprovalSchema, {
    approvalId: row.approvalId,
    tenantId: row.tenantId,
    modelVersionId: row.modelVersionId,
    targetStage: stageOf(row.targetStage),
    approver: row.approver,
    comment: row.comment,
    modelVersionEtag: row.modelVersionEtag,
    requestId: row.requestId,
    createdAt: timestampFromDate(row.createdAt),
  });
}

/** A version's approvals, for every stage and etag, as read in `manager`'s transaction. */
export async function approvalsOf(
  manager: EntityManager,
  tenantId: string,
  modelVersionId: string,
): Promise<Approval[]> {
  const rows = await manager.find(ApprovalRow, {
    where: { tenantId, modelVersionId },
    order: { createdAt: 'ASC', approvalId: 'ASC' },
  });
  return rows.map(approvalOf);
}

/** Approvals of model versions for stages, which promotion guards may require. */
export class ApprovalStore {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Records the approver's consent to the version, as it is now, entering the stage. Approving
   * again replaces the approver's earlier approval for that stage (one per approver counts).
   */
  async approve(input: ApprovalInput): Promise<ApproveModelVersionResponse> {
    const { requestId, tenantId, modelVersionId, targetStage, etag, actor } = input;
    requireFields({
      request_id: requestId,
      tenant_id: tenantId,
      model_version_id: modelVersionId,
      etag,
    });
    if (!servingStages.includes(targetStage)) {
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        'target_stage must be SHADOW, CANARY or PRODUCTION',
      );
    }
    if (actor === '') {
      throw new UnderstudyError(
        ErrorCode.Unauthenticated,
        'an approval needs an authenticated approver',
      );
    }
    const request = loggedRequest('ApproveModelVersion', input);
    return inChange(this.dataSource, actor, async (manager, log) => {
      const row = await lockModelVersion(manager, tenantId, modelVersionId);
      const earlier = await replayed(manager, request, ApproveModelVersionResponseSchema);
      if (earlier !== undefined) return earlier;
      const current = etagOf(row.rowVersion);
      if (etag !== current) {
        throw new UnderstudyError(
          ErrorCode.Aborted,
          `model version ${modelVersionId} changed since it was reviewed (etag ${etag}, now ${current})`,
          { retryable: false },
        );
      }
      if (row.stage === stageName(ModelStage.RETIRED)) {
        throw new UnderstudyError(
          ErrorCode.FailedPrecondition,
          `model version ${modelVersionId} is retired and never serves again`,
        );
      }
      // Separation of duties: whoever registered a version does not approve it. Its promoter's
      // approvals are discounted when the promotion is checked.
      if (actor === row.registeredBy) {
        throw new UnderstudyError(
          ErrorCode.FailedPrecondition,
          `${actor} registered model version ${modelVersionId} and cannot approve it`,
        );
      }
      const approvalRow: ApprovalRow = {
        tenantId,
        approvalId: randomUUID(),
        modelVersionId,
        targetStage: stageName(targetStage),
        approver: actor,
        comment: input.comment,
        modelVersionEtag: current,
        requestId,
        createdAt: new Date(),
      };
      await manager
        .createQueryBuilder()
        .insert()
        .into(ApprovalRow)
        .values(approvalRow)
        .orUpdate(
          ['approval_id', 'comment', 'model_version_etag', 'request_id', 'created_at'],
          ['tenant_id', 'model_version_id', 'target_stage', 'approver'],
        )
        .execute();
      const approval = approvalOf(approvalRow);
      log.event(topics.modelVersions, approved(row, approval));
      log.audit({
        tenantId,
        action: 'ApproveModelVersion',
        resourceType: ResourceType.MODEL_VERSION,
        resourceId: modelVersionId,
        requestId,
        reason: input.comment,
        details: { targetStage: ModelStage[targetStage], etag: current },
      });
      const response = create(ApproveModelVersionResponseSchema, { approval });
      await remember(manager, request, ApproveModelVersionResponseSchema, response);
      return response;
    });
  }
}
