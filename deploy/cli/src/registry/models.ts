import {
  GetModelVersionResponseSchema,
  ListModelVersionsResponseSchema,
  ModelStageSchema,
} from '@understudy/contracts';
import { command, group } from '../command.js';
import { enumValue } from '../enums.js';
import { noteMore, pages } from '../paging.js';
import { modelVersionSheet, modelVersionTable } from '../views/models.js';

const list = command({
  summary: 'List model versions, newest first',
  options: {
    task: { type: 'string', value: 'ID', description: "Only this task's versions" },
    stage: {
      type: 'string',
      multiple: true,
      value: 'STAGE',
      description: 'Only versions at these stages: registered, shadow, canary, production, retired',
    },
    'order-by': {
      type: 'string',
      value: 'FIELDS',
      description:
        'created_at, version or updated_at, each optionally followed by " desc" (default ' +
        '"created_at desc")',
    },
  },
  paged: true,
  examples: [
    'understudy registry models list --task 6f1c2d9e-…',
    'understudy registry models list --stage canary,production --output json',
  ],
  run: async ({ registry, tenantId, paging, output }, args) => {
    const request = {
      tenantId,
      taskId: args.string('task') ?? '',
      stages: args.strings('stage').map((s) => enumValue(ModelStageSchema, 'stage', s)),
      orderBy: args.string('order-by') ?? '',
    };
    const response = await pages(
      paging,
      (page) => registry.listModelVersions({ ...request, ...page }),
      (into, next) => into.modelVersions.push(...next.modelVersions),
    );
    output.print(ListModelVersionsResponseSchema, response, (r, layout) =>
      modelVersionTable(r.modelVersions, layout),
    );
    noteMore(output, response);
  },
});

const show = command({
  summary: 'Show a model version: stage, adapter, metrics, footprint, etag',
  positionals: [{ name: 'model-version-id' }],
  examples: ['understudy registry models show 0b7e4c1a-…'],
  run: async ({ registry, tenantId, output }, args) => {
    const response = await registry.getModelVersion({
      tenantId,
      modelVersionId: args.argument('model-version-id'),
    });
    output.print(GetModelVersionResponseSchema, response, (r) =>
      r.modelVersion === undefined ? 'No model version.\n' : modelVersionSheet(r.modelVersion),
    );
  },
});

export const models = group('Model versions and their stages', { list, show });
