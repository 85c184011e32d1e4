import { create } from '@bufbuild/protobuf';
import { EventMetaSchema } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { taskEvents, type Announced } from './task-events.js';
import type { StoredTask } from './task-message.js';

const stored = (taskId: string, callCount: number, label = `label ${taskId}`): StoredTask => ({
  taskId,
  tenantId: 't',
  signature: 'sig',
  label,
  keywords: [],
  agentName: 'desk',
  state: 'active',
  callCount,
  callsPerDay: 1,
  representativeCallIds: [],
  centroid: [1, 0],
  embeddingModel: 'm',
  embeddingBackend: 'b',
  suitability: { overall: 0.7 },
  savings: { currency: 'USD', savingsPerMonth: 12.5 },
  profile: { windowCalls: String(callCount) },
  revision: 2,
  successorTaskIds: [],
  firstSeenAt: new Date(0),
  lastSeenAt: new Date(1000),
});
const announced = (
  task: StoredTask,
  announcedCallCount: number,
  previousLabel?: string,
): Announced => ({
  task,
  announcedCallCount,
  previousLabel,
});
const meta = () => create(EventMetaSchema, { tenantId: 't', producer: 'clusterer' });

describe('taskEvents', () => {
  it('announces discoveries, merges and splits with their tasks, scores included', () => {
    const tasks = new Map([
      ['new', announced(stored('new', 10), 0)],
      ['kept', announced(stored('kept', 40), 30)],
      ['a', announced(stored('a', 20), 10)],
      ['b', announced(stored('b', 20), 10)],
      ['old', announced({ ...stored('old', 5), state: 'retired' }, 5)],
    ]);
    const { events, announced: told } = taskEvents(
      [
        { kind: 'discovered', id: 'new', cluster: 0 },
        { kind: 'merged', id: 'kept', cluster: 1, sources: ['kept', 'gone'] },
        {
          kind: 'split',
          source: 'src',
          parts: [
            { id: 'a', cluster: 2 },
            { id: 'b', cluster: 3 },
          ],
        },
        { kind: 'retired', id: 'old', reason: 'idle' },
      ],
      tasks,
      meta,
    );
    expect(events.map((event) => event.kind.case)).toEqual([
      'discovered',
      'merged',
      'split',
      'retired',
    ]);
    const [discovered, merged, split, retired] = events;
    expect(discovered?.kind.value).toMatchObject({
      task: { taskId: 'new', suitability: { overall: 0.7 }, savings: { savingsPerMonth: 12.5 } },
    });
    expect(merged?.kind.value).toMatchObject({
      sourceTaskIds: ['kept', 'gone'],
      task: { taskId: 'kept' },
    });
    expect(split?.kind.value).toMatchObject({
      sourceTaskId: 'src',
      tasks: [{ taskId: 'a' }, { taskId: 'b' }],
    });
    expect(retired?.kind.value).toMatchObject({
      reason: 'idle',
      task: { taskId: 'old', state: 2 },
    });
    expect(told).toEqual(['new', 'kept', 'a', 'b', 'old']);
    expect(events.every((event) => event.meta?.tenantId === 't')).toBe(true);
  });

  it('announces a continued task only when it grew by a quarter or was relabelled', () => {
    const continued = (id: string) => ({ kind: 'continued' as const, id, cluster: 0 });
    const tasks = new Map([
      ['same', announced(stored('same', 12), 10, 'label same')],
      ['grown', announced(stored('grown', 13), 10, 'label grown')],
      ['renamed', announced(stored('renamed', 10), 10, 'an older label')],
    ]);
    const { events, announced: told } = taskEvents(
      ['same', 'grown', 'renamed'].map(continued),
      tasks,
      meta,
    );
    expect(events.map((event) => event.kind.case)).toEqual(['updated', 'updated']);
    expect(told).toEqual(['grown', 'renamed']);
  });
});
