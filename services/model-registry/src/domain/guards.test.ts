import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  ApprovalSchema,
  DatasetSplit,
  EvaluationKind,
  EvaluationSchema,
  EvaluationVerdict,
  ModelStage,
  PromotionGuardSchema,
} from '@understudy/contracts';
import { ErrorCode, type UnderstudyError } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import {
  applicableGuards,
  checkGuards,
  countingApprovers,
  describeGuard,
  enforceGuards,
  evaluationFor,
  validateGuards,
  type GuardContext,
} from './guards.js';

const guard = (init: MessageInitShape<typeof PromotionGuardSchema>) =>
  create(PromotionGuardSchema, init);

/** Parity with the teacher on the held-out split, before production. */
const parityInit = {
  stage: ModelStage.PRODUCTION,
  evaluationKind: EvaluationKind.OFFLINE,
  split: DatasetSplit.EVAL,
  evaluatorPrefix: 'json-field-match@',
  minMetrics: [{ metric: 'exact_match', min: 0.9 }],
  requirePassedVerdict: true,
};
const parity = guard(parityInit);

let clock = Date.parse('2026-03-01T00:00:00Z');
function evaluation(init: MessageInitShape<typeof EvaluationSchema>) {
  clock += 1_000;
  return create(EvaluationSchema, {
    evaluationId: `ev-${String(clock)}`,
    kind: EvaluationKind.OFFLINE,
    split: DatasetSplit.EVAL,
    evaluatorVersion: 'json-field-match@1',
    verdict: EvaluationVerdict.PASSED,
    createdAt: timestampFromDate(new Date(clock)),
    ...init,
  });
}

const approval = (approver: string, init: MessageInitShape<typeof ApprovalSchema> = {}) =>
  create(ApprovalSchema, {
    approver,
    targetStage: ModelStage.PRODUCTION,
    modelVersionEtag: 'v3',
    ...init,
  });

function context(overrides: Partial<GuardContext> = {}): GuardContext {
  return {
    target: ModelStage.PRODUCTION,
    modelVersion: { etag: 'v3', registeredBy: 'trainer' },
    promoter: 'alice',
    evaluations: [],
    approvals: [],
    ...overrides,
  };
}

function failure(run: () => void): UnderstudyError {
  try {
    run();
  } catch (error) {
    return error as UnderstudyError;
  }
  throw new Error('expected a failure');
}

describe('applicableGuards', () => {
  it('applies a guard on a stage to promotions into it and every later stage', () => {
    const shadow = guard({ stage: ModelStage.SHADOW, requiredApprovals: 1 });
    const canary = guard({ stage: ModelStage.CANARY, requiredApprovals: 1 });
    const guards = [shadow, canary, parity];
    expect(applicableGuards(guards, ModelStage.SHADOW)).toEqual([shadow]);
    expect(applicableGuards(guards, ModelStage.CANARY)).toEqual([shadow, canary]);
    expect(applicableGuards(guards, ModelStage.PRODUCTION)).toEqual(guards);
  });
});

describe('evaluationFor', () => {
  it('reads the newest evaluation of the kind, split and evaluator the guard names', () => {
    const older = evaluation({ metrics: { exact_match: 0.95 } });
    const newer = evaluation({ metrics: { exact_match: 0.8 } });
    const otherSplit = evaluation({ split: DatasetSplit.TRAIN });
    const otherEvaluator = evaluation({ evaluatorVersion: 'llm-judge@2' });
    const shadow = evaluation({ kind: EvaluationKind.SHADOW, split: DatasetSplit.UNSPECIFIED });
    const all = [newer, otherEvaluator, older, shadow, otherSplit];
    expect(evaluationFor(parity, all)).toBe(newer);
    expect(evaluationFor(parity, [older])).toBe(older);
    expect(evaluationFor(guard({ ...parityInit, evaluatorPrefix: '' }), all)).toBe(otherEvaluator);
    expect(evaluationFor(guard({ ...parityInit, split: DatasetSplit.UNSPECIFIED }), all)).toBe(
      otherSplit,
    );
    expect(evaluationFor(guard({ evaluationKind: EvaluationKind.SHADOW }), all)).toBe(shadow);
    expect(evaluationFor(parity, [otherSplit, shadow])).toBeUndefined();
  });
});

describe('checkGuards', () => {
  it('passes a version whose newest evaluation meets every threshold and the verdict', () => {
    const results = checkGuards(
      [parity],
      context({
        evaluations: [evaluation({ metrics: { exact_match: 0.93 } })],
      }),
    );
    expect(results).toEqual([
      expect.objectContaining({ guard: describeGuard(parity), passed: true, violations: [] }),
    ]);
  });

  it('names what is missing: the evaluation, a metric below or absent, the verdict', () => {
    expect(checkGuards([parity], context())[0]?.violations).toEqual([
      'no OFFLINE evaluation on EVAL by json-field-match@* was recorded',
    ]);
    const twoMetrics = guard({
      ...parityInit,
      minMetrics: [
        { metric: 'exact_match', min: 0.9 },
        { metric: 'json_valid', min: 1 },
      ],
    });
    const failed = evaluation({
      metrics: { exact_match: 0.84 },
      verdict: EvaluationVerdict.FAILED,
    });
    const [result] = checkGuards([twoMetrics], context({ evaluations: [failed] }));
    expect(result?.passed).toBe(false);
    expect(result?.violations).toEqual([
      'exact_match is 0.84, below 0.9',
      `json_valid is missing from evaluation ${failed.evaluationId}`,
      `evaluation ${failed.evaluationId} has verdict FAILED`,
    ]);
  });

  it('judges by the newest evaluation only: a later worse one fails a version', () => {
    const evaluations = [
      evaluation({ metrics: { exact_match: 0.95 } }),
      evaluation({ metrics: { exact_match: 0.7 } }),
    ];
    expect(checkGuards([parity], context({ evaluations }))[0]?.passed).toBe(false);
  });

  it('counts distinct approvers at the current etag, never the promoter or the registrant', () => {
    const twoApprovals = guard({ stage: ModelStage.CANARY, requiredApprovals: 2 });
    const approvals = [
      approval('bob'),
      approval('bob'), // the same approver twice counts once
      approval('alice'), // the promoter
      approval('trainer'), // the registrant
      approval('carol', { modelVersionEtag: 'v2' }), // voided by a later change
      approval('dave', { targetStage: ModelStage.CANARY }), // for another stage
    ];
    expect(countingApprovers(context({ approvals }))).toEqual(['bob']);
    const [result] = checkGuards([twoApprovals], context({ approvals }));
    expect(result?.violations).toEqual([
      '1 of 2 approvals for PRODUCTION at etag v3 by someone other than the promoter and the registrant',
    ]);
    const enough = [...approvals, approval('erin')];
    expect(checkGuards([twoApprovals], context({ approvals: enough }))[0]?.passed).toBe(true);
    // An approver who then promotes the version does not count.
    const bobAndErin = [approval('bob'), approval('erin')];
    expect(
      checkGuards([twoApprovals], context({ approvals: bobAndErin, promoter: 'bob' }))[0]?.passed,
    ).toBe(false);
  });

  it('gives no results where no guard applies', () => {
    expect(checkGuards([parity], context({ target: ModelStage.CANARY }))).toEqual([]);
    expect(checkGuards([], context())).toEqual([]);
  });
});

describe('enforceGuards', () => {
  it('refuses with FAILED_PRECONDITION naming the violations, the results in the details', () => {
    const approvals = guard({ stage: ModelStage.SHADOW, requiredApprovals: 1 });
    const results = checkGuards(
      [approvals, parity],
      context({ evaluations: [evaluation({ metrics: { exact_match: 0.5 } })] }),
    );
    const error = failure(() => {
      enforceGuards(results);
    });
    expect(error.code).toBe(ErrorCode.FailedPrecondition);
    expect(error.message).toContain('SHADOW needs 1 approval: 0 of 1 approvals');
    expect(error.message).toContain('exact_match is 0.5, below 0.9');
    expect(error.details).toEqual({
      guardResults: [
        { guard: 'SHADOW needs 1 approval', violations: [expect.stringContaining('0 of 1')] },
        {
          guard:
            'PRODUCTION needs OFFLINE evaluation on EVAL by json-field-match@* with exact_match >= 0.9, verdict PASSED',
          violations: ['exact_match is 0.5, below 0.9'],
        },
      ],
    });
  });

  it('lets passing results through', () => {
    expect(() => {
      enforceGuards([]);
    }).not.toThrow();
    const results = checkGuards(
      [parity],
      context({
        evaluations: [evaluation({ metrics: { exact_match: 1 } })],
      }),
    );
    expect(() => {
      enforceGuards(results);
    }).not.toThrow();
  });
});

describe('validateGuards', () => {
  it('accepts well-formed guards', () => {
    expect(() => {
      validateGuards([parity, guard({ stage: ModelStage.CANARY, requiredApprovals: 2 })]);
    }).not.toThrow();
  });

  it('names every malformed guard', () => {
    const error = failure(() => {
      validateGuards([
        guard({ stage: ModelStage.RETIRED, requiredApprovals: 1 }),
        guard({ stage: ModelStage.CANARY }),
        guard({ stage: ModelStage.CANARY, requiredApprovals: 1, requirePassedVerdict: true }),
        guard({
          stage: ModelStage.PRODUCTION,
          evaluationKind: EvaluationKind.OFFLINE,
          minMetrics: [
            { metric: 'exact_match', min: Number.NaN },
            { metric: 'exact_match', min: 0.5 },
            { metric: '', min: 0.5 },
          ],
        }),
        guard({ stage: ModelStage.SHADOW, requiredApprovals: -1 }),
      ]);
    });
    expect(error.code).toBe(ErrorCode.InvalidArgument);
    expect(error.details['problems']).toEqual([
      'guards[0].stage must be SHADOW, CANARY or PRODUCTION',
      'guards[1] requires nothing: set evaluation_kind or required_approvals',
      'guards[2] sets evaluation conditions without evaluation_kind',
      'guards[3].min_metrics[0].min must be finite',
      'guards[3].min_metrics names exact_match twice',
      'guards[3].min_metrics[2].metric must be set',
      'guards[4].required_approvals must not be negative',
      'guards[4] requires nothing: set evaluation_kind or required_approvals',
    ]);
  });
});
