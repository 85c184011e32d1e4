import { randomUUID } from 'node:crypto';
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { metrics, trace } from '@opentelemetry/api';
import { topics, type Messaging } from '@understudy/messaging';
import { withSpan, type Logger } from '@understudy/telemetry';
import { defaultDiscoveryPolicy, type DiscoveryPolicy } from '../domain/discovery/discovery.js';
import { defaultReconcileShares } from '../domain/discovery/reconcile.js';
import type { PriceTable } from '../domain/prices.js';
import { recluster } from '../domain/recluster.js';
import type { CallStore } from '../drivers/call-store.js';
import type { TaskStore } from '../drivers/task-store.js';
import { taskEventMeta } from '../events.js';
import type { TaskIndexes } from './task-index.js';

export interface ReclusterPolicy {
  readonly checkMs: number;
  readonly afterCalls: number;
  readonly intervalMs: number;
  readonly windowMs: number;
  readonly maxWindowCalls: number;
  readonly retireAfterMs: number;
  readonly discovery: Pick<DiscoveryPolicy, 'minTaskSize' | 'minClusterSize' | 'sampleSize'>;
  readonly prices: PriceTable;
}

const outboxBatch = 100;

/**
 * Re-clusters each tenant when enough calls arrived since its last run, or when any did and the
 * interval passed (the interval alone also retires idle tasks). A tenant is run by one replica
 * at a time (a PostgreSQL advisory lock); every replica checks every `checkMs`, so a replica
 * that dies mid-run leaves the tenant to the next one. A run's events are committed with it and
 * published after, from an outbox that a crash leaves for the next run to publish.
 */
export class Reclusterer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private readonly tracer = trace.getTracer('understudy.clusterer');
  private readonly meter = metrics.getMeter('understudy.clusterer');
  private readonly runs = this.meter.createHistogram('understudy.clusterer.recluster.duration', {
    description: 'Duration of re-clusterings',
    unit: 's',
  });
  private readonly windowCalls = this.meter.createHistogram(
    'understudy.clusterer.recluster.calls',
    {
      description: 'Calls in the window of each re-clustering',
    },
  );

  constructor(
    private readonly calls: CallStore,
    private readonly tasks: TaskStore,
    private readonly indexes: TaskIndexes,
    private readonly messaging: Messaging,
    private readonly policy: ReclusterPolicy,
    private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.ticking = this.ticking.then(() => this.tick());
    }, this.policy.checkMs);
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }

  /** One round over the tenants: runs those due, publishes what outboxes hold. */
  async tick(now = new Date()): Promise<void> {
    try {
      const owing = new Set(await this.tasks.tenantsWithOutbox());
      for (const state of await this.tasks.tenants()) {
        const due = await this.isDue(state.tenantId, state.lastRunAt, now);
        if (!due && !owing.has(state.tenantId)) continue;
        await this.tasks.withTenantLock(state.tenantId, async () => {
          await this.publishOutbox(state.tenantId);
          // Another replica may have run it since the list was read.
          const current = await this.tasks.state(state.tenantId);
          if (due && (await this.isDue(state.tenantId, current?.lastRunAt ?? null, now)))
            await this.run(state.tenantId);
        });
      }
    } catch (error) {
      // The database or Kafka is away: the next round tries again.
      this.logger.warn({ err: error }, 're-clustering round failed; retrying');
    }
  }

  /** Re-clusters one tenant now. */
  async run(tenantId: string): Promise<void> {
    const { policy } = this;
    const startedAt = new Date();
    await withSpan(this.tracer, 'clusterer recluster', async (span) => {
      const window = await this.calls.window(
        tenantId,
        new Date(startedAt.getTime() - policy.windowMs),
        startedAt,
        policy.maxWindowCalls,
      );
      this.logger.info(
        { tenantId, calls: window.calls.length, model: window.model },
        're-clustering: window loaded',
      );
      const known = (await this.tasks.activeTasks(tenantId)).map((row) => ({
        id: row.taskId,
        lastSeenMs: row.lastSeenAt.getTime(),
      }));
      const computing = performance.now();
      const result = recluster(
        window,
        known,
        {
          discovery: { ...defaultDiscoveryPolicy, ...policy.discovery },
          reconcile: { ...defaultReconcileShares, retireAfterMs: policy.retireAfterMs },
          prices: policy.prices,
          labelSample: 200,
          representatives: 5,
        },
        randomUUID,
      );
      this.logger.info(
        {
          tenantId,
          tasks: result.tasks.length,
          changes: result.changes.length,
          ms: Math.round(performance.now() - computing),
        },
        're-clustering: tasks found',
      );
      const applied = await this.tasks.apply(tenantId, window, result, startedAt, () =>
        taskEventMeta(tenantId),
      );
      span.setAttributes({
        'understudy.tenant.id': tenantId,
        'understudy.clusterer.calls': window.calls.length,
        'understudy.clusterer.tasks': applied.tasks,
      });
      this.indexes.invalidate(tenantId);
      this.logger.info({ tenantId, ...applied }, 're-clustering: committed');
      await this.publishOutbox(tenantId);
      this.windowCalls.record(window.calls.length);
    });
    this.runs.record((Date.now() - startedAt.getTime()) / 1000);
  }

  /**
   * Due when `afterCalls` calls arrived since the last run, when the oldest of fewer has waited
   * `intervalMs`, or when the last run is that old and there are tasks that may have gone idle.
   */
  private async isDue(tenantId: string, lastRunAt: Date | null, now: Date): Promise<boolean> {
    const { afterCalls, intervalMs } = this.policy;
    const fresh = await this.calls.freshCalls(tenantId, lastRunAt, afterCalls);
    if (fresh.count >= afterCalls) return true;
    if (fresh.oldest !== undefined && now.getTime() - fresh.oldest.getTime() >= intervalMs)
      return true;
    return (
      lastRunAt !== null &&
      now.getTime() - lastRunAt.getTime() >= intervalMs &&
      (await this.tasks.hasActiveTasks(tenantId))
    );
  }

  /** Publishes the tenant's outbox in order, deleting each batch once Kafka has it. */
  private async publishOutbox(tenantId: string): Promise<void> {
    for (;;) {
      const batch = await this.tasks.outbox(tenantId, outboxBatch);
      if (batch.length === 0) return;
      await this.messaging.publishAll(
        topics.tasks,
        batch.map((entry) => entry.event),
      );
      await this.tasks.deleteOutbox(batch.map((entry) => entry.id));
    }
  }
}
