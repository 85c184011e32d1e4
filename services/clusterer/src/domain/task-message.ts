import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { EmbeddingSchema, TaskSchema, TaskState, type Task } from '@understudy/contracts';
import { centroidOf } from './clustering.js';

/** What a Task message is built from: the stored task and figures computed for it. */
export interface TaskFacts {
  readonly taskId: string;
  readonly tenantId: string;
  readonly signature: string;
  readonly label: string;
  readonly keywords: readonly string[];
  readonly agentName: string;
  readonly callCount: number;
  readonly centroidSum: readonly number[] | null;
  readonly embeddingModel: string;
  readonly embeddingBackend: string;
  readonly revision: number;
  readonly firstSeenAt: Date;
  readonly lastSeenAt: Date;
  readonly representativeCallIds: readonly string[];
  /** Calls that started in the trailing seven days. */
  readonly callsLastWeek: number;
}

/** The Task message. Suitability and savings are not scored yet and stay unset. */
export function taskMessage(facts: TaskFacts): Task {
  const centroid = facts.centroidSum === null ? undefined : centroidOf(facts.centroidSum);
  return create(TaskSchema, {
    taskId: facts.taskId,
    tenantId: facts.tenantId,
    signature: facts.signature,
    label: facts.label,
    keywords: [...facts.keywords],
    agentName: facts.agentName,
    state: TaskState.ACTIVE,
    callCount: BigInt(facts.callCount),
    callsPerDay: facts.callsLastWeek / 7,
    representativeCallIds: [...facts.representativeCallIds],
    ...(centroid && {
      centroid: create(EmbeddingSchema, {
        values: centroid,
        dimension: centroid.length,
        model: facts.embeddingModel,
        backend: facts.embeddingBackend,
        normalized: true,
      }),
    }),
    revision: BigInt(facts.revision),
    firstSeenAt: timestampFromDate(facts.firstSeenAt),
    lastSeenAt: timestampFromDate(facts.lastSeenAt),
  });
}
