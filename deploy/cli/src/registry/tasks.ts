import {
  GetTaskResponseSchema,
  ListTasksResponseSchema,
  TaskState,
  TaskStateSchema,
} from '@understudy/contracts';
import { command, group } from '../command.js';
import { enumValue } from '../enums.js';
import { noteMore, pages } from '../paging.js';
import { taskSheet, taskTable } from '../views/tasks.js';

const list = command({
  summary: 'List tasks found by the clusterer, most savings first',
  options: {
    state: { type: 'string', value: 'STATE', description: 'active or retired' },
    agent: { type: 'string', value: 'NAME', description: "Only this agent's tasks" },
    'min-suitability': {
      type: 'string',
      value: 'SCORE',
      description: 'Only tasks at least this suitable, 0 to 1',
    },
    'order-by': {
      type: 'string',
      value: 'FIELDS',
      description:
        'savings_per_month, suitability, call_count or last_seen_at, each optionally followed ' +
        'by " desc" (default "savings_per_month desc")',
    },
  },
  paged: true,
  examples: [
    'understudy registry tasks list --state active --min-suitability 0.7',
    'understudy registry tasks list --agent billing-bot --order-by "call_count desc" --all',
  ],
  run: async ({ registry, tenantId, paging, output }, args) => {
    const state = args.string('state');
    const minSuitability = args.number('min-suitability', { min: 0, max: 1 }) ?? 0;
    const request = {
      tenantId,
      state:
        state === undefined ? TaskState.UNSPECIFIED : enumValue(TaskStateSchema, 'state', state),
      agentName: args.string('agent') ?? '',
      minSuitability,
      orderBy: args.string('order-by') ?? '',
    };
    const response = await pages(
      paging,
      (page) => registry.listTasks({ ...request, ...page }),
      (into, next) => into.tasks.push(...next.tasks),
    );
    output.print(ListTasksResponseSchema, response, (r, layout) => taskTable(r.tasks, layout));
    noteMore(output, response);
  },
});

const show = command({
  summary: 'Show a task: its figures, suitability and savings',
  positionals: [{ name: 'task-id' }],
  examples: ['understudy registry tasks show 6f1c2d9e-…'],
  run: async ({ registry, tenantId, output }, args) => {
    const response = await registry.getTask({ tenantId, taskId: args.argument('task-id') });
    output.print(GetTaskResponseSchema, response, (r) =>
      r.task === undefined ? 'No task.\n' : taskSheet(r.task),
    );
  },
});

export const tasks = group('Tasks found by the clusterer', { list, show });
