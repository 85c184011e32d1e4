import { ModelStage } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';

/** Stages as stored: readable in SQL, independent of proto enum numbers. */
export const stageNames = {
  [ModelStage.REGISTERED]: 'registered',
  [ModelStage.SHADOW]: 'shadow',
  [ModelStage.CANARY]: 'canary',
  [ModelStage.PRODUCTION]: 'production',
  [ModelStage.RETIRED]: 'retired',
} as const;

export type StageName = (typeof stageNames)[keyof typeof stageNames];
export type KnownStage = keyof typeof stageNames;

const knownStages = [
  ModelStage.REGISTERED,
  ModelStage.SHADOW,
  ModelStage.CANARY,
  ModelStage.PRODUCTION,
  ModelStage.RETIRED,
] as const;

const stagesByName = new Map<string, KnownStage>(
  knownStages.map((stage) => [stageNames[stage], stage]),
);

export function stageName(stage: ModelStage): StageName {
  if (stage === ModelStage.UNSPECIFIED) {
    throw new UnderstudyError(ErrorCode.InvalidArgument, 'model stage is unspecified');
  }
  return stageNames[stage];
}

export function stageOf(name: string): KnownStage {
  const stage = stagesByName.get(name);
  if (stage === undefined) {
    throw new UnderstudyError(ErrorCode.Internal, `unknown stored model stage "${name}"`);
  }
  return stage;
}

/** The stages that carry a route, i.e. receive traffic. */
export const servingStages: readonly ModelStage[] = [
  ModelStage.SHADOW,
  ModelStage.CANARY,
  ModelStage.PRODUCTION,
];

export interface Placement {
  readonly stage: ModelStage;
  readonly trafficPercent: number;
}

export interface PromotionRequest {
  readonly modelVersionId: string;
  readonly current: Placement;
  readonly target: ModelStage;
  /** Ignored for PRODUCTION. */
  readonly trafficPercent: number;
  /** Which version holds each serving stage of the task now. */
  readonly occupants: ReadonlyMap<ModelStage, string>;
}

export type PromotionPlan =
  | { readonly kind: 'unchanged' }
  | {
      readonly kind: 'move';
      readonly to: Placement;
      /** Versions pushed out of the target stage; they return to REGISTERED. */
      readonly displaced: readonly string[];
    };

function refuse(reason: string): never {
  throw new UnderstudyError(ErrorCode.FailedPrecondition, reason);
}

/**
 * The promotion state machine: versions only move forward (REGISTERED → SHADOW → CANARY →
 * PRODUCTION; skipping stages is allowed, going back is a rollback), a task has at most one
 * version per serving stage, and a new PRODUCTION version pushes the former one back to
 * REGISTERED. Repeating a promotion that already took effect changes nothing, so retries are safe.
 */
export function planPromotion(request: PromotionRequest): PromotionPlan {
  const { current, target, modelVersionId } = request;
  if (!servingStages.includes(target)) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      'target_stage must be SHADOW, CANARY or PRODUCTION',
    );
  }
  const production = target === ModelStage.PRODUCTION;
  const trafficPercent = production ? 100 : request.trafficPercent;
  if (!production && (trafficPercent < 1 || trafficPercent > 100)) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `traffic_percent must be 1 to 100 for ${stageName(target)}, not ${String(trafficPercent)}`,
    );
  }
  if (current.stage === ModelStage.RETIRED) refuse('a retired model version never serves again');
  if (target < current.stage) {
    refuse(
      `a ${stageName(current.stage)} version cannot be promoted to ${stageName(target)}; ` +
        'roll the route back instead',
    );
  }
  if (target === current.stage && trafficPercent === current.trafficPercent) {
    return { kind: 'unchanged' };
  }
  const occupant = request.occupants.get(target);
  const displaced = occupant !== undefined && occupant !== modelVersionId ? [occupant] : [];
  if (!production && displaced.length > 0) {
    refuse(
      `the task already has a ${stageName(target)} version (${String(occupant)}); ` +
        'retire or promote it first',
    );
  }
  return { kind: 'move', to: { stage: target, trafficPercent }, displaced };
}

/** A version that served a task in production before, with its stage now. */
export interface FormerProduction {
  readonly modelVersionId: string;
  readonly stage: ModelStage;
}

export interface RollbackRequest<Former extends FormerProduction> {
  /** Which version holds each serving stage of the task now. */
  readonly occupants: ReadonlyMap<ModelStage, string>;
  /** The versions that served in production before the current one, most recent first. */
  readonly formerProduction: readonly Former[];
}

export type RollbackPlan<Former extends FormerProduction> =
  /** The canary or shadow version leaves its stage, back to REGISTERED. */
  | { readonly kind: 'withdraw'; readonly modelVersionId: string; readonly stage: ModelStage }
  /** The production version goes back to REGISTERED and, if any, a former one returns. */
  | {
      readonly kind: 'restore';
      readonly withdrawn: string;
      readonly restored: Former | undefined;
    };

/**
 * What a rollback undoes: the canary first (it answers calls), else the shadow, else the
 * production version, which the most recent former production version that is not retired
 * replaces; with none, the task's calls go to the LLM again.
 */
export function planRollback<Former extends FormerProduction>(
  request: RollbackRequest<Former>,
): RollbackPlan<Former> {
  for (const stage of [ModelStage.CANARY, ModelStage.SHADOW]) {
    const modelVersionId = request.occupants.get(stage);
    if (modelVersionId !== undefined) return { kind: 'withdraw', modelVersionId, stage };
  }
  const current = request.occupants.get(ModelStage.PRODUCTION);
  if (current === undefined) refuse('the task has no route to roll back');
  const restored = request.formerProduction.find(
    (former) => former.modelVersionId !== current && former.stage !== ModelStage.RETIRED,
  );
  return { kind: 'restore', withdrawn: current, restored };
}
