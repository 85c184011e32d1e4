import { Inject, Injectable } from '@nestjs/common';
import type { Task, TaskEvent } from '@understudy/contracts';
import { OnMessage, topics } from '@understudy/messaging';
import { DatasetBuilder } from '../domain/dataset-builder.js';
import type { TaskMembers } from '../domain/plan.js';
import type { TaskCalls } from '../domain/ports.js';
import { TASK_CALLS } from '../tokens.js';

/**
 * Task changes from the clusterer. A TaskEvent names the task and its revision but carries only
 * a few representative calls, so the full membership is read from the clusterer.
 */
@Injectable()
export class TasksHandler {
  constructor(
    @Inject(DatasetBuilder) private readonly builder: DatasetBuilder,
    @Inject(TASK_CALLS) private readonly taskCalls: TaskCalls,
  ) {}

  private async members(task: Task): Promise<TaskMembers> {
    return {
      tenantId: task.tenantId,
      taskId: task.taskId,
      revision: task.revision,
      memberCallIds: await this.taskCalls.memberCallIds(task.tenantId, task.taskId),
    };
  }

  @OnMessage(topics.tasks, { group: 'dataset-builder' })
  async onTaskEvent(event: TaskEvent): Promise<void> {
    const cause = event.meta?.eventId ?? '';
    const tenantId = event.meta?.tenantId ?? '';
    const { kind } = event;
    switch (kind.case) {
      case 'discovered':
      case 'updated':
        if (kind.value.task)
          await this.builder.updateTask(await this.members(kind.value.task), cause);
        return;
      case 'retired':
        if (kind.value.task) {
          await this.builder.retireTasks(kind.value.task.tenantId, [kind.value.task.taskId]);
        }
        return;
      case 'merged': {
        const { task } = kind.value;
        const kept = task?.taskId;
        await this.builder.retireTasks(
          task?.tenantId ?? tenantId,
          kind.value.sourceTaskIds.filter((id) => id !== kept),
        );
        if (task) await this.builder.updateTask(await this.members(task), cause);
        return;
      }
      case 'split': {
        const { sourceTaskId, tasks } = kind.value;
        if (!tasks.some(({ taskId }) => taskId === sourceTaskId)) {
          await this.builder.retireTasks(tasks[0]?.tenantId ?? tenantId, [sourceTaskId]);
        }
        for (const task of tasks) await this.builder.updateTask(await this.members(task), cause);
        return;
      }
      case undefined:
        return;
    }
  }
}
