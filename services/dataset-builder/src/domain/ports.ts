import type { Dataset, LlmCall } from '@understudy/contracts';
import type { TaskMembers } from './plan.js';

export type BuildState = 'building' | 'ready' | 'failed';

export interface BuildRecord {
  readonly datasetId: string;
  readonly tenantId: string;
  readonly taskId: string;
  readonly requestId: string;
  readonly state: BuildState;
  readonly failureReason?: string;
  readonly createdAt: Date;
  readonly finishedAt?: Date;
  /** The registry's record, once ready. */
  readonly dataset?: Dataset;
}

export interface BuildClaim {
  readonly datasetId: string;
  readonly tenantId: string;
  readonly taskId: string;
  readonly requestId: string;
  readonly createdAt: Date;
}

/** The builder's own state: captured calls, task membership and builds. */
export interface DatasetStore {
  /** Keeps the first copy of a call; a redelivered or re-exported one changes nothing. */
  saveCall(call: LlmCall): Promise<void>;
  calls(tenantId: string, callIds: readonly string[]): Promise<Map<string, LlmCall>>;
  /** Applies the task's membership if its revision is newer than the one held; says whether it did. */
  saveTask(task: TaskMembers): Promise<boolean>;
  retireTasks(tenantId: string, taskIds: readonly string[]): Promise<void>;
  task(tenantId: string, taskId: string): Promise<TaskMembers | undefined>;
  /** Active tasks that list the call among their members. */
  tasksWithMember(tenantId: string, callId: string): Promise<TaskMembers[]>;
  /** Records a build as started, or returns the build already recorded under that id. */
  claimBuild(claim: BuildClaim): Promise<BuildRecord>;
  finishBuild(datasetId: string, dataset: Dataset, finishedAt: Date): Promise<void>;
  failBuild(datasetId: string, reason: string, finishedAt: Date): Promise<void>;
  build(tenantId: string, datasetId: string): Promise<BuildRecord | undefined>;
}

/** The model registry, which keeps the record of every dataset. */
export interface DatasetRegistry {
  /** Idempotent by request id; returns the record with the registry's version and created_at. */
  createDataset(requestId: string, dataset: Dataset): Promise<Dataset>;
}

/** Every call of a task, from the clusterer that owns membership. */
export interface TaskCalls {
  /** Ids of the task's calls whose content was captured, oldest first. */
  memberCallIds(tenantId: string, taskId: string): Promise<string[]>;
}
