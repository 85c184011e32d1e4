import {
  GetModelVersionLineageResponseSchema,
  GetTaskLineageResponseSchema,
} from '@understudy/contracts';
import { command } from '../command.js';
import { UsageError } from '../failure.js';
import { modelVersionLineageTree, taskLineageTree } from '../views/lineage.js';

export const lineage = command({
  summary: 'Where a model version came from, or everything built for a task',
  description:
    'With a model version: its task, dataset, training run, the window of calls it learned ' +
    'from, its evaluations and approvals. With --task: the datasets, runs, versions, ' +
    'evaluations and routes of the task, as a tree.',
  positionals: [{ name: 'model-version-id', optional: true }],
  options: {
    task: { type: 'string', value: 'ID', description: 'The lineage of this task instead' },
    predecessors: {
      type: 'boolean',
      description: 'With --task: also what was built for the tasks it was merged or split from',
    },
  },
  examples: [
    'understudy registry lineage 0b7e4c1a-…',
    'understudy registry lineage --task 6f1c2d9e-… --predecessors',
  ],
  run: async ({ registry, tenantId, output }, args) => {
    const modelVersionId = args.positional('model-version-id');
    const taskId = args.string('task');
    if ((modelVersionId === undefined) === (taskId === undefined)) {
      throw new UsageError('give either a <model-version-id> or --task');
    }
    if (taskId === undefined) {
      if (args.flag('predecessors')) throw new UsageError('--predecessors goes with --task');
      const response = await registry.getModelVersionLineage({
        tenantId,
        modelVersionId: modelVersionId ?? '',
      });
      output.print(GetModelVersionLineageResponseSchema, response, modelVersionLineageTree);
      return;
    }
    const response = await registry.getTaskLineage({
      tenantId,
      taskId,
      includePredecessors: args.flag('predecessors'),
    });
    output.print(GetTaskLineageResponseSchema, response, (r) => taskLineageTree(r, taskId));
  },
});
