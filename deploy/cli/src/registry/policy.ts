import { readFile } from 'node:fs/promises';
import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import {
  GetPromotionPolicyResponseSchema,
  PromotionPolicySchema,
  UpdatePromotionPolicyResponseSchema,
  type PromotionPolicy,
} from '@understudy/contracts';
import { command, group } from '../command.js';
import { UsageError } from '../failure.js';
import { policyView } from '../views/policy.js';

const show = command({
  summary: 'Show the promotion guards in force',
  description:
    "A task's own policy, else the tenant's default, else none (promotions unguarded). A guard " +
    'for a stage applies to every promotion into it or a later stage.',
  options: {
    task: {
      type: 'string',
      value: 'ID',
      description: "The policy in force for this task (default: the tenant's default)",
    },
  },
  examples: [
    'understudy registry policy show',
    'understudy registry policy show --task 6f1c2d9e-…',
  ],
  run: async ({ registry, tenantId, output }, args) => {
    const taskId = args.string('task') ?? '';
    const response = await registry.getPromotionPolicy({ tenantId, taskId });
    output.print(GetPromotionPolicyResponseSchema, response, (r, layout) =>
      r.policy === undefined ? 'No policy.\n' : policyView(r.policy, taskId, layout),
    );
  },
});

async function readPolicy(path: string): Promise<PromotionPolicy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
    throw new UsageError(`cannot read --file ${path}: ${reason}`);
  }
  try {
    const json = JSON.parse(text) as JsonValue;
    // `policy show --output json` prints {"policy": {…}}: that edits and round-trips as is.
    const policy =
      typeof json === 'object' && json !== null && !Array.isArray(json) && 'policy' in json
        ? (json['policy'] ?? null)
        : json;
    return fromJson(PromotionPolicySchema, policy);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${path} is not a PromotionPolicy in proto JSON: ${reason}`);
  }
}

const set = command({
  summary: "Replace a task's promotion policy, or the tenant's default",
  description:
    'FILE holds a PromotionPolicy in proto JSON, e.g. {"guards": [{"stage": ' +
    '"MODEL_STAGE_PRODUCTION", "evaluationKind": "EVALUATION_KIND_OFFLINE", "split": ' +
    '"DATASET_SPLIT_EVAL", "minMetrics": [{"metric": "exact_match", "min": 0.9}], ' +
    '"requiredApprovals": 1}]}. An empty guard list removes the policy. With an etag in FILE ' +
    '(`policy show --output json` prints one, and its output can be edited and set as it is) ' +
    'the update fails (exit 4) if the policy changed ' +
    'since; without one it replaces whatever is there.',
  options: {
    task: { type: 'string', value: 'ID', description: "Set this task's own policy" },
    default: { type: 'boolean', description: "Set the tenant's default policy" },
    file: {
      type: 'string',
      required: true,
      value: 'FILE',
      description: 'The policy, in proto JSON',
    },
  },
  examples: [
    'understudy registry policy set --default --file policy.json',
    'understudy registry policy set --task 6f1c2d9e-… --file strict.json',
  ],
  run: async (context, args) => {
    const { registry, output } = context;
    const task = args.string('task');
    if ((task === undefined) !== args.flag('default')) {
      throw new UsageError('give either --task or --default');
    }
    const taskId = task ?? '';
    const policy = await readPolicy(args.required('file'));
    if (policy.taskId !== '' && policy.taskId !== taskId) {
      throw new UsageError(
        `the file is the policy of task "${policy.taskId}", not of ${task ?? 'the default'}`,
      );
    }
    if (policy.tenantId !== '' && context.tenantId !== '' && policy.tenantId !== context.tenantId) {
      throw new UsageError(
        `the file is a policy of tenant "${policy.tenantId}", not of ${context.tenantId}`,
      );
    }
    const tenantId = context.tenantId || policy.tenantId;
    let etag = policy.etag;
    if (etag === '') {
      const current = (await registry.getPromotionPolicy({ tenantId, taskId })).policy;
      // The answer may be the default standing in for a task without a policy: that is a create.
      if (current !== undefined && current.taskId === taskId) etag = current.etag;
    }
    const response = await registry.updatePromotionPolicy({
      policy: { ...policy, tenantId, taskId, etag },
      updateMask: { paths: ['guards'] },
    });
    output.print(UpdatePromotionPolicyResponseSchema, response, (r, layout) =>
      r.policy === undefined ? 'No policy.\n' : policyView(r.policy, taskId, layout),
    );
  },
});

export const policy = group('Promotion guards', { show, set });
