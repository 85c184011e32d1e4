import { create } from '@bufbuild/protobuf';
import { ModelStage, ModelVersionSchema } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { promoted, routesChanged } from './events.js';

describe('events', () => {
  it('carry a fresh EventMeta for the tenant, named after the registry', () => {
    const modelVersion = create(ModelVersionSchema, {
      modelVersionId: 'mv',
      tenantId: 't',
      taskId: 'task',
      stage: ModelStage.CANARY,
    });
    const first = promoted(modelVersion, ModelStage.SHADOW);
    const second = promoted(modelVersion, ModelStage.SHADOW);
    expect(first).toMatchObject({
      modelVersionId: 'mv',
      taskId: 'task',
      meta: { tenantId: 't', producer: 'model-registry' },
      kind: {
        case: 'promoted',
        value: { fromStage: ModelStage.SHADOW, toStage: ModelStage.CANARY },
      },
    });
    expect(first.meta?.eventId).not.toBe(second.meta?.eventId);
    expect(routesChanged('t', 7n, [])).toMatchObject({
      revision: 7n,
      routes: [],
      meta: { tenantId: 't' },
    });
  });
});
