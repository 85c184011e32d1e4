import { create, fromJson, type JsonValue } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  EmbeddingSchema,
  SavingsEstimateSchema,
  SuitabilityScoresSchema,
  TaskProfileSchema,
  TaskSchema,
  TaskState,
  type Task,
} from '@understudy/contracts';

/** A task as stored (the columns of the `task` table that a Task message shows). */
export interface StoredTask {
  readonly taskId: string;
  readonly tenantId: string;
  readonly signature: string;
  readonly label: string;
  readonly keywords: readonly string[];
  readonly agentName: string;
  readonly state: 'active' | 'retired';
  readonly callCount: number;
  readonly callsPerDay: number;
  readonly representativeCallIds: readonly string[];
  readonly centroid: readonly number[] | null;
  readonly embeddingModel: string;
  readonly embeddingBackend: string;
  /** SuitabilityScores, SavingsEstimate and TaskProfile as proto JSON. */
  readonly suitability: unknown;
  readonly savings: unknown;
  readonly profile: unknown;
  readonly revision: number;
  readonly successorTaskIds: readonly string[];
  readonly firstSeenAt: Date;
  readonly lastSeenAt: Date;
}

export function taskMessage(task: StoredTask): Task {
  const { centroid } = task;
  return create(TaskSchema, {
    taskId: task.taskId,
    tenantId: task.tenantId,
    signature: task.signature,
    label: task.label,
    keywords: [...task.keywords],
    agentName: task.agentName,
    state: task.state === 'active' ? TaskState.ACTIVE : TaskState.RETIRED,
    callCount: BigInt(task.callCount),
    callsPerDay: task.callsPerDay,
    representativeCallIds: [...task.representativeCallIds],
    suitability: fromJson(SuitabilityScoresSchema, task.suitability as JsonValue),
    savings: fromJson(SavingsEstimateSchema, task.savings as JsonValue),
    profile: fromJson(TaskProfileSchema, task.profile as JsonValue),
    ...(centroid !== null && {
      centroid: create(EmbeddingSchema, {
        values: [...centroid],
        dimension: centroid.length,
        model: task.embeddingModel,
        backend: task.embeddingBackend,
        normalized: true,
      }),
    }),
    revision: BigInt(task.revision),
    firstSeenAt: timestampFromDate(task.firstSeenAt),
    lastSeenAt: timestampFromDate(task.lastSeenAt),
    successorTaskIds: [...task.successorTaskIds],
  });
}
