import { ModelStageSchema, type Route } from '@understudy/contracts';
import { table } from '../format/table.js';
import { duration, enumLabel, isoTime, none, percent } from '../format/values.js';
import type { Layout } from '../output.js';

function fallback(route: Route): string {
  const policy = route.fallback;
  if (policy === undefined || !policy.fallbackToLlm) return 'none';
  const timeout = policy.timeout === undefined ? '' : ` after ${duration(policy.timeout)}`;
  return `llm${timeout}${policy.validateOutput ? ', validated' : ''}`;
}

export function routeTable(routes: readonly Route[], layout: Layout): string {
  if (routes.length === 0) return 'No routes: the calls go to the LLM.\n';
  return table(
    routes,
    [
      { header: 'task', value: (r) => r.taskId },
      { header: 'model version', value: (r) => r.modelVersionId },
      { header: 'stage', value: (r) => enumLabel(ModelStageSchema, r.stage) },
      { header: 'traffic', value: (r) => percent(r.trafficPercent), align: 'right' },
      { header: 'min conf', value: (r) => String(r.minConfidence), align: 'right' },
      { header: 'fallback', value: fallback, max: 24 },
      { header: 'endpoint', value: (r) => r.endpoint || none, max: 40 },
      { header: 'updated', value: (r) => isoTime(r.updatedAt) },
    ],
    layout,
  );
}
