import type { Approval, Evaluation } from '@understudy/contracts';
import { rethrowDatabaseError } from '@understudy/database';
import { In, type DataSource } from 'typeorm';
import { approvalsOf } from './approvals.js';
import { EvaluationRow } from './entities.js';
import { evaluationOf } from './evaluations.js';

/** Evaluations and approvals of model versions, as lineage shows them. */
export class ReviewReader {
  constructor(private readonly dataSource: DataSource) {}

  /** The evaluations of these versions, newest first. */
  async evaluationsOf(tenantId: string, modelVersionIds: readonly string[]): Promise<Evaluation[]> {
    if (modelVersionIds.length === 0) return [];
    const rows = await this.dataSource.manager
      .find(EvaluationRow, {
        where: { tenantId, modelVersionId: In([...modelVersionIds]) },
        order: { createdAt: 'DESC', evaluationId: 'DESC' },
      })
      .catch(rethrowDatabaseError);
    return rows.map(evaluationOf);
  }

  /** A version's approvals, oldest first. */
  approvalsOf(tenantId: string, modelVersionId: string): Promise<Approval[]> {
    return approvalsOf(this.dataSource.manager, tenantId, modelVersionId).catch(
      rethrowDatabaseError,
    );
  }
}
