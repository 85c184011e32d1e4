import { create } from '@bufbuild/protobuf';
import { ModelStage, RouteSchema, type Route } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { decide, percentile } from './decide.js';

function route(routeId: string, stage: ModelStage, trafficPercent = 0, minConfidence = 0): Route {
  return create(RouteSchema, {
    routeId,
    tenantId: 't',
    taskId: 'task',
    endpoint: `http://${routeId}:8000/v1`,
    servingName: routeId,
    stage,
    trafficPercent,
    minConfidence,
  });
}

const classified = { taskId: 'task', confidence: 0.9 };
const ids = Array.from({ length: 2000 }, (_, i) => `req-${i}`);

describe('decide', () => {
  it('sends unclassified calls and tasks without routes to the LLM', () => {
    const production = route('prod', ModelStage.PRODUCTION);
    expect(decide([production], undefined, 'r')).toEqual({ answer: undefined, shadows: [] });
    expect(decide([production], { taskId: '', confidence: 1 }, 'r').answer).toBeUndefined();
    expect(decide([], classified, 'r')).toEqual({ answer: undefined, shadows: [] });
  });

  it('sends a task with a production route to its model', () => {
    const production = route('prod', ModelStage.PRODUCTION);
    const registered = route('reg', ModelStage.REGISTERED, 100);
    expect(decide([registered, production], classified, 'r').answer).toBe(production);
  });

  it('skips routes that demand more confidence than the classification has', () => {
    const production = route('prod', ModelStage.PRODUCTION, 0, 0.95);
    expect(decide([production], classified, 'r').answer).toBeUndefined();
    expect(decide([production], { taskId: 'task', confidence: 0.95 }, 'r').answer).toBe(production);
  });

  it('gives canaries their share of request ids, deterministically', () => {
    const production = route('prod', ModelStage.PRODUCTION);
    const canary = route('canary', ModelStage.CANARY, 30);
    const answers = ids.map((id) => decide([production, canary], classified, id).answer);
    const share = answers.filter((a) => a === canary).length / ids.length;
    expect(share).toBeGreaterThan(0.26);
    expect(share).toBeLessThan(0.34);
    expect(answers.filter((a) => a === production).length).toBe(
      ids.length - answers.filter((a) => a === canary).length,
    );
    for (const id of ids.slice(0, 50)) {
      expect(decide([canary, production], classified, id).answer).toBe(
        decide([production, canary], classified, id).answer,
      );
    }
  });

  it('adds up the shares of several canaries and leaves the rest to the LLM without production', () => {
    const a = route('a', ModelStage.CANARY, 20);
    const b = route('b', ModelStage.CANARY, 30);
    const answers = ids.map((id) => decide([a, b], classified, id).answer);
    const toLlm = answers.filter((x) => x === undefined).length / ids.length;
    expect(answers.filter((x) => x === a).length / ids.length).toBeCloseTo(0.2, 1);
    expect(answers.filter((x) => x === b).length / ids.length).toBeCloseTo(0.3, 1);
    expect(toLlm).toBeCloseTo(0.5, 1);
  });

  it('mirrors shadows for their share, whoever answers', () => {
    const always = route('always', ModelStage.SHADOW, 100);
    const never = route('never', ModelStage.SHADOW, 0);
    const half = route('half', ModelStage.SHADOW, 50);
    const decisions = ids.map((id) => decide([always, never, half], classified, id));
    expect(decisions.every((d) => d.answer === undefined && d.shadows.includes(always))).toBe(true);
    expect(decisions.some((d) => d.shadows.includes(never))).toBe(false);
    const halfShare = decisions.filter((d) => d.shadows.includes(half)).length / ids.length;
    expect(halfShare).toBeCloseTo(0.5, 1);
  });

  it('draws a stable percentile in [0, 100)', () => {
    const values = ids.map((id) => percentile('salt', id));
    expect(values.every((v) => Number.isInteger(v) && v >= 0 && v < 100)).toBe(true);
    expect(percentile('salt', 'x')).toBe(percentile('salt', 'x'));
  });
});
