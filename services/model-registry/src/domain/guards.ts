import { create, toJson } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import {
  DatasetSplit,
  EvaluationKind,
  EvaluationVerdict,
  GuardResultSchema,
  ModelStage,
  type Approval,
  type Evaluation,
  type GuardResult,
  type ModelVersion,
  type PromotionGuard,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { servingStages } from './stages.js';

/** What a promotion's guards are checked against, as read in the promotion's transaction. */
export interface GuardContext {
  /** The stage the version is promoted into. */
  readonly target: ModelStage;
  /** The version as it is now: its etag binds approvals, its registrant may not approve it. */
  readonly modelVersion: Pick<ModelVersion, 'etag' | 'registeredBy'>;
  /** Who asks for the promotion; their own approvals do not count. */
  readonly promoter: string;
  /** The version's evaluations, in any order. */
  readonly evaluations: readonly Evaluation[];
  /** The version's approvals, for any stage and etag. */
  readonly approvals: readonly Approval[];
}

/**
 * A guard on stage S holds for promotions into S and every later stage, so that skipping
 * stages (REGISTERED → PRODUCTION) skips no guard.
 */
export function applicableGuards(
  guards: readonly PromotionGuard[],
  target: ModelStage,
): PromotionGuard[] {
  return guards.filter((guard) => guard.stage <= target);
}

/** Every applicable guard of the policy, checked: passed or with what it lacks. */
export function checkGuards(
  guards: readonly PromotionGuard[],
  context: GuardContext,
): GuardResult[] {
  return applicableGuards(guards, context.target).map((guard) => {
    const violations = [
      ...evaluationViolations(guard, context),
      ...approvalViolations(guard, context),
    ];
    return create(GuardResultSchema, {
      guard: describeGuard(guard),
      passed: violations.length === 0,
      violations,
    });
  });
}

/**
 * Fails with FAILED_PRECONDITION when a guard did not pass: the message names every violation,
 * the details carry the guard results for clients to show.
 */
export function enforceGuards(results: readonly GuardResult[]): void {
  const failed = results.filter((result) => !result.passed);
  if (failed.length === 0) return;
  const reasons = failed.map((result) => `${result.guard}: ${result.violations.join('; ')}`);
  throw new UnderstudyError(
    ErrorCode.FailedPrecondition,
    `the promotion policy refuses it: ${reasons.join(' | ')}`,
    { details: { guardResults: results.map((result) => toJson(GuardResultSchema, result)) } },
  );
}

/** The guard for people, e.g. `PRODUCTION needs OFFLINE evaluation on EVAL with exact_match >= 0.9`. */
export function describeGuard(guard: PromotionGuard): string {
  const needs: string[] = [];
  if (guard.evaluationKind !== EvaluationKind.UNSPECIFIED) {
    let evaluation = wantedEvaluation(guard);
    const conditions = guard.minMetrics.map(({ metric, min }) => `${metric} >= ${String(min)}`);
    if (guard.requirePassedVerdict) conditions.push('verdict PASSED');
    if (conditions.length > 0) evaluation += ` with ${conditions.join(', ')}`;
    needs.push(evaluation);
  }
  if (guard.requiredApprovals > 0) {
    needs.push(
      `${String(guard.requiredApprovals)} approval${guard.requiredApprovals > 1 ? 's' : ''}`,
    );
  }
  return `${ModelStage[guard.stage]} needs ${needs.join(' and ')}`;
}

/** `OFFLINE evaluation on EVAL by json-field-match*`: which evaluation a guard reads. */
function wantedEvaluation(guard: PromotionGuard): string {
  let wanted = `${EvaluationKind[guard.evaluationKind]} evaluation`;
  if (guard.split !== DatasetSplit.UNSPECIFIED) wanted += ` on ${DatasetSplit[guard.split]}`;
  if (guard.evaluatorPrefix !== '') wanted += ` by ${guard.evaluatorPrefix}*`;
  return wanted;
}

/** The newest evaluation the guard asks for: its kind, its split and its evaluator, if set. */
export function evaluationFor(
  guard: PromotionGuard,
  evaluations: readonly Evaluation[],
): Evaluation | undefined {
  let newest: Evaluation | undefined;
  for (const evaluation of evaluations) {
    if (
      evaluation.kind !== guard.evaluationKind ||
      (guard.split !== DatasetSplit.UNSPECIFIED && evaluation.split !== guard.split) ||
      !evaluation.evaluatorVersion.startsWith(guard.evaluatorPrefix)
    ) {
      continue;
    }
    if (newest === undefined || newer(evaluation, newest)) newest = evaluation;
  }
  return newest;
}

/** Creation time, then id, so that the choice does not depend on the order read. */
function newer(a: Evaluation, b: Evaluation): boolean {
  const at = a.createdAt ? timestampMs(a.createdAt) : 0;
  const bt = b.createdAt ? timestampMs(b.createdAt) : 0;
  return at !== bt ? at > bt : a.evaluationId > b.evaluationId;
}

function evaluationViolations(guard: PromotionGuard, context: GuardContext): string[] {
  if (guard.evaluationKind === EvaluationKind.UNSPECIFIED) return [];
  const evaluation = evaluationFor(guard, context.evaluations);
  if (evaluation === undefined) return [`no ${wantedEvaluation(guard)} was recorded`];
  const violations: string[] = [];
  for (const { metric, min } of guard.minMetrics) {
    const value = evaluation.metrics[metric];
    if (value === undefined) {
      violations.push(`${metric} is missing from evaluation ${evaluation.evaluationId}`);
    } else if (value < min) {
      violations.push(`${metric} is ${String(value)}, below ${String(min)}`);
    }
  }
  if (guard.requirePassedVerdict && evaluation.verdict !== EvaluationVerdict.PASSED) {
    violations.push(
      `evaluation ${evaluation.evaluationId} has verdict ${EvaluationVerdict[evaluation.verdict]}`,
    );
  }
  return violations;
}

/**
 * Approvals count for the stage being entered, at the version's current etag (a later change
 * voids them), once per approver, and never from the promoter or the registrant: separation of
 * duties.
 */
export function countingApprovers(context: GuardContext): string[] {
  const excluded = new Set(['', context.promoter, context.modelVersion.registeredBy]);
  const approvers = context.approvals
    .filter(
      (approval) =>
        approval.targetStage === context.target &&
        approval.modelVersionEtag === context.modelVersion.etag &&
        !excluded.has(approval.approver),
    )
    .map((approval) => approval.approver);
  return [...new Set(approvers)].sort();
}

function approvalViolations(guard: PromotionGuard, context: GuardContext): string[] {
  if (guard.requiredApprovals <= 0) return [];
  const approvers = countingApprovers(context);
  if (approvers.length >= guard.requiredApprovals) return [];
  return [
    `${String(approvers.length)} of ${String(guard.requiredApprovals)} approvals for ` +
      `${ModelStage[context.target]} at etag ${context.modelVersion.etag} by someone other ` +
      'than the promoter and the registrant',
  ];
}

/** Fails with INVALID_ARGUMENT naming every malformed guard of a policy about to be stored. */
export function validateGuards(guards: readonly PromotionGuard[]): void {
  const problems: string[] = [];
  guards.forEach((guard, index) => {
    const at = `guards[${String(index)}]`;
    if (!servingStages.includes(guard.stage)) {
      problems.push(`${at}.stage must be SHADOW, CANARY or PRODUCTION`);
    }
    if (!Number.isSafeInteger(guard.requiredApprovals) || guard.requiredApprovals < 0) {
      problems.push(`${at}.required_approvals must not be negative`);
    }
    const evaluated = guard.evaluationKind !== EvaluationKind.UNSPECIFIED;
    if (!evaluated && guard.requiredApprovals <= 0) {
      problems.push(`${at} requires nothing: set evaluation_kind or required_approvals`);
    }
    const conditional =
      guard.minMetrics.length > 0 ||
      guard.requirePassedVerdict ||
      guard.split !== DatasetSplit.UNSPECIFIED ||
      guard.evaluatorPrefix !== '';
    if (!evaluated && conditional) {
      problems.push(`${at} sets evaluation conditions without evaluation_kind`);
    }
    const metrics = new Set<string>();
    guard.minMetrics.forEach(({ metric, min }, m) => {
      if (metric === '') problems.push(`${at}.min_metrics[${String(m)}].metric must be set`);
      if (metrics.has(metric)) problems.push(`${at}.min_metrics names ${metric} twice`);
      if (!Number.isFinite(min))
        problems.push(`${at}.min_metrics[${String(m)}].min must be finite`);
      metrics.add(metric);
    });
  });
  if (problems.length > 0) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, problems.join('; '), {
      details: { problems },
    });
  }
}
