import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { TaskEventSchema, type EventMeta, type TaskEvent } from '@understudy/contracts';
import type { TaskChange } from './discovery/reconcile.js';
import { taskMessage, type StoredTask } from './task-message.js';

/** A continued task is announced again when it grew by this factor or its label changed. */
export const announceGrowth = 1.25;

export interface Announced {
  readonly task: StoredTask;
  /** What consumers were last told: call count and label. */
  readonly announcedCallCount: number;
  readonly previousLabel: string | undefined;
}

/**
 * The TaskEvents of one re-clustering, in an order consumers can apply one by one: discoveries,
 * updates, merges and splits, then retirements. Continued tasks are announced only when they
 * changed enough to matter to a consumer (a dataset rebuild follows an update).
 */
export function taskEvents(
  changes: readonly TaskChange[],
  tasks: ReadonlyMap<string, Announced>,
  meta: () => EventMeta,
): { events: TaskEvent[]; announced: string[] } {
  const events: TaskEvent[] = [];
  const announced: string[] = [];
  const task = (id: string) => {
    const found = tasks.get(id);
    if (found === undefined) throw new Error(`re-clustering lost task ${id}`);
    announced.push(id);
    return taskMessage(found.task);
  };
  const event = (kind: MessageInitShape<typeof TaskEventSchema>['kind']) =>
    events.push(create(TaskEventSchema, { meta: meta(), ...(kind && { kind }) }));
  for (const change of changes) {
    switch (change.kind) {
      case 'discovered':
        event({ case: 'discovered', value: { task: task(change.id) } });
        break;
      case 'continued': {
        const state = tasks.get(change.id);
        if (state === undefined || !changed(state)) break;
        event({ case: 'updated', value: { task: task(change.id) } });
        break;
      }
      case 'merged':
        event({
          case: 'merged',
          value: { sourceTaskIds: [...change.sources], task: task(change.id) },
        });
        break;
      case 'split':
        event({
          case: 'split',
          value: { sourceTaskId: change.source, tasks: change.parts.map((part) => task(part.id)) },
        });
        break;
      case 'retired':
        event({ case: 'retired', value: { task: task(change.id), reason: change.reason } });
        break;
    }
  }
  return { events, announced };
}

function changed({ task, announcedCallCount, previousLabel }: Announced): boolean {
  return (
    task.callCount >= announceGrowth * announcedCallCount ||
    (previousLabel !== undefined && previousLabel !== task.label)
  );
}
