import { ResponseFormatType } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { signature } from '../../testing/vectors.js';
import { TaskIndex, type IndexedTask } from './online.js';
import { placeKey, structureKey } from './structure.js';

const chat = signature('chat', { stepName: '' });
const tools = signature('tools', { stepName: '', toolNames: ['search'] });
const tasks: IndexedTask[] = [
  { id: 'sql', structure: structureKey(chat), centroid: [1, 0, 0], threshold: 0.8 },
  { id: 'email', structure: structureKey(chat), centroid: [0, 1, 0], threshold: 0.5 },
  { id: 'search', structure: structureKey(tools), centroid: [0, 0, 1], threshold: 0.5 },
  { id: 'dark', structure: structureKey(chat), centroid: undefined, threshold: Infinity },
];
const known = signature('router', { stepName: 'route' });
const index = new TaskIndex(
  3,
  tasks,
  new Map([['router', 'route-task']]),
  new Map([[placeKey(signature('x', { agentName: 'desk', stepName: 'reply' })), 'reply-task']]),
);

describe('TaskIndex', () => {
  it('sends a call of a one-job signature to its task, content or not', () => {
    expect(index.assign(known, undefined)).toEqual({ taskId: 'route-task', by: 'signature' });
    expect(index.assign(known, [1, 0, 0])).toEqual({ taskId: 'route-task', by: 'signature' });
  });

  it('sends a call without content by its place, or nowhere', () => {
    const sibling = signature('other-digest', { agentName: 'desk', stepName: 'reply' });
    expect(index.assign(sibling, undefined)).toEqual({ taskId: 'reply-task', by: 'place' });
    expect(index.assign(chat, undefined)).toBeUndefined();
  });

  it('joins the nearest centroid of the structure when as close as its members', () => {
    expect(index.assign(chat, [0.9, 0.436, 0])).toEqual({
      taskId: 'sql',
      by: 'content',
      similarity: expect.closeTo(0.9, 6) as number,
    });
    expect(index.assign(chat, [0.6, 0.8, 0])?.taskId).toBe('email');
  });

  it('leaves a call unassigned below the nearest task’s threshold', () => {
    // Nearest is sql (0.7), below its 0.8; email would accept 0.5 but is not the nearest.
    expect(index.assign(chat, [0.7, 0.5, 0.51])).toBeUndefined();
  });

  it('never compares calls with tasks of another structure', () => {
    expect(index.assign(chat, [0, 0, 1])).toBeUndefined();
    expect(index.assign(tools, [0, 0, 1])?.taskId).toBe('search');
    expect(
      index.assign(
        signature('json', { responseFormat: ResponseFormatType.JSON_OBJECT }),
        [1, 0, 0],
      ),
    ).toBeUndefined();
  });
});
