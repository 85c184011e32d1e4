import { Inject, Injectable } from '@nestjs/common';
import type { TaskEvent, TrainingRunEvent } from '@understudy/contracts';
import { OnMessage, topics } from '@understudy/messaging';
import { ViewStore } from '../drivers/views.js';

export const consumerGroup = 'model-registry';

/** Keeps the registry's views of tasks and training runs, for lineage and validation. */
@Injectable()
export class ViewConsumers {
  constructor(@Inject(ViewStore) private readonly views: ViewStore) {}

  @OnMessage(topics.tasks, { group: consumerGroup })
  onTask(event: TaskEvent): Promise<void> {
    return this.views.applyTaskEvent(event);
  }

  @OnMessage(topics.trainingRuns, { group: consumerGroup })
  onTrainingRun(event: TrainingRunEvent): Promise<void> {
    return this.views.applyRunEvent(event);
  }
}
