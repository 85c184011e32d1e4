import { ListRoutesResponseSchema, ModelStageSchema, ModelStage } from '@understudy/contracts';
import { command, group } from '../command.js';
import { enumValue } from '../enums.js';
import { noteMore, pages } from '../paging.js';
import { routeTable } from '../views/routes.js';

const list = command({
  summary: 'List routes: which versions answer which tasks, and how much of their traffic',
  options: {
    task: { type: 'string', value: 'ID', description: "Only this task's routes" },
    stage: {
      type: 'string',
      multiple: true,
      value: 'STAGE',
      description: 'Only routes at these stages: shadow, canary, production',
    },
    'order-by': {
      type: 'string',
      value: 'FIELDS',
      description:
        'updated_at or traffic_percent, optionally followed by " desc" (default "updated_at desc")',
    },
  },
  paged: true,
  examples: [
    'understudy registry routes list --task 6f1c2d9e-…',
    'understudy registry routes list --stage canary',
  ],
  run: async ({ registry, tenantId, paging, output }, args) => {
    const request = {
      tenantId,
      taskId: args.string('task') ?? '',
      stages: args
        .strings('stage')
        .map((s) =>
          enumValue(ModelStageSchema, 'stage', s, [
            ModelStage.SHADOW,
            ModelStage.CANARY,
            ModelStage.PRODUCTION,
          ]),
        ),
      orderBy: args.string('order-by') ?? '',
    };
    const response = await pages(
      paging,
      (page) => registry.listRoutes({ ...request, ...page }),
      (into, next) => into.routes.push(...next.routes),
    );
    output.print(ListRoutesResponseSchema, response, (r, layout) => routeTable(r.routes, layout));
    noteMore(output, response);
  },
});

export const routes = group('The routing table', { list });
