import { create } from '@bufbuild/protobuf';
import { Inject, Injectable } from '@nestjs/common';
import { TaskEventSchema } from '@understudy/contracts';
import { Messaging, topics } from '@understudy/messaging';
import { taskMessage } from '../domain/task-message.js';
import { TaskStore } from '../drivers/task-store.js';
import type { TaskRow } from '../drivers/entities.js';
import { eventMeta } from '../events.js';
import { TaskIndex } from './task-index.js';

/** Publishes the TaskEvents a signature group owes, then clears them (at least once). */
@Injectable()
export class TaskAnnouncer {
  constructor(
    @Inject(TaskStore) private readonly store: TaskStore,
    @Inject(Messaging) private readonly messaging: Messaging,
    @Inject(TaskIndex) private readonly index: TaskIndex,
  ) {}

  async announcePending(tenantId: string, signature: string, causationId: string): Promise<void> {
    for (const row of await this.store.pending(tenantId, signature)) {
      await this.announce(row, causationId);
    }
  }

  private async announce(row: TaskRow, causationId: string): Promise<void> {
    const task = taskMessage(await this.store.facts(row));
    const meta = eventMeta(row.tenantId, row.taskId, row.revision, causationId);
    const kind =
      row.pendingEvent === 'discovered'
        ? { case: 'discovered' as const, value: { task } }
        : { case: 'updated' as const, value: { task } };
    await this.messaging.publish(topics.tasks, create(TaskEventSchema, { meta, kind }));
    await this.store.markAnnounced(row.taskId, row.revision);
    this.index.invalidate(row.tenantId);
  }
}
