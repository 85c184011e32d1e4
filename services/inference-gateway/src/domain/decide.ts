import { createHash } from 'node:crypto';
import { ModelStage, type Route } from '@understudy/contracts';

/** What the clusterer said about a call; absent when it matched no task or did not answer. */
export interface Classification {
  readonly taskId: string;
  readonly confidence: number;
}

export interface Decision {
  /** The route whose model answers, or undefined for the LLM. */
  readonly answer: Route | undefined;
  /** Routes that get a copy of the call, their answers discarded. */
  readonly shadows: readonly Route[];
}

const toLlm: Decision = { answer: undefined, shadows: [] };

/**
 * Picks who answers a call of a classified task: a canary for its share of request ids, else the
 * production route, else the LLM; shadows mirror their own share. Routes demanding more
 * confidence than the classification has are skipped. Deterministic in the request id, so a
 * retried request lands where the first attempt did.
 */
export function decide(
  routes: readonly Route[],
  classification: Classification | undefined,
  requestId: string,
): Decision {
  if (classification === undefined || classification.taskId === '') return toLlm;
  const eligible = routes
    .filter((r) => r.endpoint !== '' && classification.confidence >= r.minConfidence)
    .sort((a, b) => a.routeId.localeCompare(b.routeId));
  const ofStage = (stage: ModelStage) => eligible.filter((r) => r.stage === stage);

  const shadows = ofStage(ModelStage.SHADOW).filter(
    (r) => percentile(r.routeId, requestId) < r.trafficPercent,
  );
  // Canaries split one draw per task, so their shares add up instead of overlapping.
  const draw = percentile(classification.taskId, requestId);
  let upper = 0;
  for (const canary of ofStage(ModelStage.CANARY)) {
    upper += canary.trafficPercent;
    if (draw < upper) return { answer: canary, shadows };
  }
  return { answer: ofStage(ModelStage.PRODUCTION)[0], shadows };
}

/** A stable number in [0, 100) for a request id, independent per salt. */
export function percentile(salt: string, requestId: string): number {
  const digest = createHash('sha256').update(`${salt}\0${requestId}`).digest();
  return digest.readUInt32BE(0) % 100;
}
