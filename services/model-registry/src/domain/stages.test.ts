import { ModelStage } from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import {
  planPromotion,
  planRollback,
  stageName,
  stageOf,
  type PromotionRequest,
} from './stages.js';

const at = (stage: ModelStage, trafficPercent = 0) => ({ stage, trafficPercent });

function request(overrides: Partial<PromotionRequest>): PromotionRequest {
  return {
    modelVersionId: 'mv',
    current: at(ModelStage.REGISTERED),
    target: ModelStage.CANARY,
    trafficPercent: 10,
    occupants: new Map(),
    ...overrides,
  };
}

describe('planPromotion', () => {
  it('moves forward, skipping stages, with production always at 100 %', () => {
    expect(planPromotion(request({ target: ModelStage.SHADOW, trafficPercent: 5 }))).toEqual({
      kind: 'move',
      to: at(ModelStage.SHADOW, 5),
      displaced: [],
    });
    expect(planPromotion(request({ target: ModelStage.PRODUCTION, trafficPercent: 3 }))).toEqual({
      kind: 'move',
      to: at(ModelStage.PRODUCTION, 100),
      displaced: [],
    });
  });

  it('changes a canary share, and repeats of a done promotion change nothing', () => {
    const canary = at(ModelStage.CANARY, 10);
    expect(planPromotion(request({ current: canary, trafficPercent: 25 }))).toMatchObject({
      kind: 'move',
      to: at(ModelStage.CANARY, 25),
    });
    expect(planPromotion(request({ current: canary, trafficPercent: 10 }))).toEqual({
      kind: 'unchanged',
    });
    const production = at(ModelStage.PRODUCTION, 100);
    expect(planPromotion(request({ current: production, target: ModelStage.PRODUCTION }))).toEqual({
      kind: 'unchanged',
    });
  });

  it('displaces the former production version, but not a shadow or canary', () => {
    const occupants = new Map([
      [ModelStage.PRODUCTION, 'old'],
      [ModelStage.CANARY, 'other'],
    ]);
    expect(planPromotion(request({ target: ModelStage.PRODUCTION, occupants }))).toMatchObject({
      displaced: ['old'],
    });
    expect(() => planPromotion(request({ occupants }))).toThrow(
      expect.objectContaining({
        code: ErrorCode.FailedPrecondition,
        message: expect.stringContaining('already has a canary version (other)') as unknown,
      }),
    );
  });

  it('refuses backward moves and retired versions with the reason', () => {
    expect(() =>
      planPromotion(
        request({ current: at(ModelStage.PRODUCTION, 100), target: ModelStage.SHADOW }),
      ),
    ).toThrow(
      expect.objectContaining({
        code: ErrorCode.FailedPrecondition,
        message: expect.stringContaining(
          'production version cannot be promoted to shadow',
        ) as unknown,
      }),
    );
    expect(() => planPromotion(request({ current: at(ModelStage.RETIRED) }))).toThrow(
      expect.objectContaining({ code: ErrorCode.FailedPrecondition }),
    );
  });

  it('rejects targets outside the serving stages and shares outside 1..100', () => {
    for (const target of [ModelStage.UNSPECIFIED, ModelStage.REGISTERED, ModelStage.RETIRED]) {
      expect(() => planPromotion(request({ target }))).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidArgument }),
      );
    }
    for (const trafficPercent of [0, 101]) {
      expect(() => planPromotion(request({ trafficPercent }))).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidArgument }),
      );
    }
  });
});

describe('planRollback', () => {
  const former = (modelVersionId: string, stage = ModelStage.REGISTERED) => ({
    modelVersionId,
    stage,
  });

  it('withdraws the canary first, then the shadow', () => {
    const occupants = new Map([
      [ModelStage.SHADOW, 'shadow'],
      [ModelStage.CANARY, 'canary'],
      [ModelStage.PRODUCTION, 'prod'],
    ]);
    expect(planRollback({ occupants, formerProduction: [former('old')] })).toEqual({
      kind: 'withdraw',
      modelVersionId: 'canary',
      stage: ModelStage.CANARY,
    });
    occupants.delete(ModelStage.CANARY);
    expect(planRollback({ occupants, formerProduction: [] })).toEqual({
      kind: 'withdraw',
      modelVersionId: 'shadow',
      stage: ModelStage.SHADOW,
    });
  });

  it('restores the most recent former production version that is not retired', () => {
    const occupants = new Map([[ModelStage.PRODUCTION, 'c']]);
    const b = former('b', ModelStage.RETIRED);
    const a = former('a');
    expect(planRollback({ occupants, formerProduction: [former('c'), b, a] })).toEqual({
      kind: 'restore',
      withdrawn: 'c',
      restored: a,
    });
  });

  it('sends the task back to the LLM when no former version can serve', () => {
    const occupants = new Map([[ModelStage.PRODUCTION, 'c']]);
    expect(
      planRollback({ occupants, formerProduction: [former('b', ModelStage.RETIRED)] }),
    ).toEqual({ kind: 'restore', withdrawn: 'c', restored: undefined });
  });

  it('refuses a task without routes', () => {
    expect(() => planRollback({ occupants: new Map(), formerProduction: [former('a')] })).toThrow(
      expect.objectContaining({
        code: ErrorCode.FailedPrecondition,
        message: 'the task has no route to roll back',
      }),
    );
  });
});

describe('stage names', () => {
  it('round-trips every known stage and rejects the rest', () => {
    for (const stage of [ModelStage.REGISTERED, ModelStage.CANARY, ModelStage.RETIRED]) {
      expect(stageOf(stageName(stage))).toBe(stage);
    }
    expect(() => stageName(ModelStage.UNSPECIFIED)).toThrow();
    expect(() => stageOf('staging')).toThrow();
  });
});
