import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  DatasetEventSchema,
  DatasetFormat,
  DatasetSchema,
  ObjectRefSchema,
  TimeWindowSchema,
  type Dataset,
  type LlmCall,
} from '@understudy/contracts';
import { UnderstudyError } from '@understudy/errors';
import { derivedUuid, eventMeta, topics, type Messaging } from '@understudy/messaging';
import type { ObjectStore } from '@understudy/storage';
import { contentOf, type ContentKeyring } from '@understudy/tenancy';
import { silentLogger, type Logger } from '@understudy/telemetry';
import { datasetFiles, type DatasetFile } from './files.js';
import { planDataset, type BuildPolicy, type DatasetPlan, type TaskMembers } from './plan.js';
import type { BuildRecord, DatasetRegistry, DatasetStore } from './ports.js';

export interface DatasetBuilderOptions {
  readonly policy: BuildPolicy;
  /** Bucket of the object store, for the `s3://` URIs in manifests and object refs. */
  readonly bucket: string;
  /** Service name, the events' producer. */
  readonly producer: string;
  /** E.g. `dataset-builder@0.1.0`. */
  readonly builderVersion: string;
  /** Opens encrypted content; without it, calls with encrypted content are refused. */
  readonly keyring?: ContentKeyring | undefined;
  readonly logger?: Logger;
  readonly now?: () => Date;
}

export interface Dependencies {
  readonly store: DatasetStore;
  readonly objects: ObjectStore;
  readonly registry: DatasetRegistry;
  readonly messaging: Messaging;
}

/**
 * Turns tasks into datasets. A task gets one dataset per member set once enough of its members
 * are usable; everything about it (id, split, bytes, event id) is derived from the members, so
 * a redelivered event or a retried build finds or rewrites the same dataset, never a second one.
 */
export class DatasetBuilder {
  private readonly logger: Logger;
  private readonly now: () => Date;

  constructor(
    private readonly dependencies: Dependencies,
    private readonly options: DatasetBuilderOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Keeps a captured call and builds the datasets that it completes. Content that cannot be read
   * fails here, non-retryably, so the consumer dead-letters the call until its keys are there;
   * a readable call is kept as it came, encrypted or not, and opened only to build.
   */
  async addCall(call: LlmCall, causationId: string): Promise<void> {
    contentOf(call, this.options.keyring);
    await this.dependencies.store.saveCall(call);
    const tasks = await this.dependencies.store.tasksWithMember(call.tenantId, call.callId);
    for (const task of tasks) await this.consider(task, causationId);
  }

  /** Applies a task's new membership and builds its dataset if it is now large enough. */
  async updateTask(task: TaskMembers, causationId: string): Promise<void> {
    if (await this.dependencies.store.saveTask(task)) await this.consider(task, causationId);
  }

  retireTasks(tenantId: string, taskIds: readonly string[]): Promise<void> {
    return this.dependencies.store.retireTasks(tenantId, taskIds);
  }

  /**
   * Builds the task's dataset when it has enough usable calls. Returns the build, or undefined
   * when the task is unknown, retired or too small.
   */
  async consider(
    task: TaskMembers,
    causationId: string,
    policy: BuildPolicy = this.options.policy,
    requestId?: string,
  ): Promise<BuildRecord | undefined> {
    const calls = await this.dependencies.store.calls(task.tenantId, task.memberCallIds);
    const plan = planDataset(task, calls, policy, this.options.keyring);
    if (plan === undefined) return undefined;
    const claimed = await this.dependencies.store.claimBuild({
      datasetId: plan.datasetId,
      tenantId: task.tenantId,
      taskId: task.taskId,
      requestId: requestId ?? plan.datasetId,
      createdAt: this.now(),
    });
    if (claimed.state !== 'building') return claimed;
    return this.build(task, plan, policy, claimed, causationId);
  }

  private async build(
    task: TaskMembers,
    plan: DatasetPlan,
    policy: BuildPolicy,
    claimed: BuildRecord,
    causationId: string,
  ): Promise<BuildRecord> {
    const { store, objects, registry, messaging } = this.dependencies;
    const files = datasetFiles(plan, {
      tenantId: task.tenantId,
      taskId: task.taskId,
      taskRevision: task.revision,
      bucket: this.options.bucket,
      builderVersion: this.options.builderVersion,
      evalFraction: policy.evalFraction,
      createdAt: claimed.createdAt,
    });
    try {
      for (const file of [files.train, files.eval, files.manifest]) {
        await objects.put(file.key, file.body, {
          contentType: file === files.manifest ? 'application/json' : 'application/jsonl',
          metadata: { tenant: task.tenantId, 'dataset-id': plan.datasetId },
        });
      }
      const dataset = await registry.createDataset(
        plan.datasetId,
        this.datasetOf(task, plan, files),
      );
      const finishedAt = this.now();
      await messaging.publish(
        topics.datasets,
        create(DatasetEventSchema, {
          meta: this.meta(task.tenantId, `${plan.datasetId}:ready`, causationId, finishedAt),
          datasetId: plan.datasetId,
          taskId: task.taskId,
          kind: { case: 'ready', value: { dataset } },
        }),
      );
      await store.finishBuild(plan.datasetId, dataset, finishedAt);
      this.logger.info(
        {
          datasetId: plan.datasetId,
          taskId: task.taskId,
          train: files.train.rows,
          eval: files.eval.rows,
        },
        'dataset ready',
      );
      return { ...claimed, state: 'ready', finishedAt, dataset };
    } catch (thrown) {
      const error = UnderstudyError.from(thrown);
      // Retryable failures go back to the consumer, which retries and finally dead-letters.
      if (error.retryable) throw error;
      const finishedAt = this.now();
      const reason = `${error.code}: ${error.message}`;
      await messaging.publish(
        topics.datasets,
        create(DatasetEventSchema, {
          meta: this.meta(task.tenantId, `${plan.datasetId}:failed`, causationId, finishedAt),
          datasetId: plan.datasetId,
          taskId: task.taskId,
          kind: { case: 'failed', value: { reason, retryable: false } },
        }),
      );
      await store.failBuild(plan.datasetId, reason, finishedAt);
      this.logger.warn({ err: error, datasetId: plan.datasetId }, 'dataset build failed');
      return { ...claimed, state: 'failed', failureReason: reason, finishedAt };
    }
  }

  private datasetOf(task: TaskMembers, plan: DatasetPlan, files: ReturnType<typeof datasetFiles>) {
    const ref = (file: DatasetFile, mediaType: string) =>
      create(ObjectRefSchema, {
        bucket: this.options.bucket,
        key: file.key,
        sha256: file.sha256,
        sizeBytes: BigInt(file.body.length),
        mediaType,
      });
    return create(DatasetSchema, {
      datasetId: plan.datasetId,
      tenantId: task.tenantId,
      taskId: task.taskId,
      format: DatasetFormat.CHAT_JSONL,
      train: ref(files.train, 'application/jsonl'),
      eval: ref(files.eval, 'application/jsonl'),
      manifest: ref(files.manifest, 'application/json'),
      trainExampleCount: BigInt(files.train.rows),
      evalExampleCount: BigInt(files.eval.rows),
      ...(plan.window && {
        sourceWindow: create(TimeWindowSchema, {
          startTime: timestampFromDate(plan.window.start),
          endTime: timestampFromDate(plan.window.end),
        }),
      }),
      sourceCallCount: BigInt(plan.sourceCallCount),
      taskRevision: task.revision,
      builderVersion: this.options.builderVersion,
      teacherModels: plan.teacherModels.map(({ model, exampleCount }) => ({
        model,
        exampleCount: BigInt(exampleCount),
      })),
    }) satisfies Dataset;
  }

  /** Event ids derive from the dataset, so a republished event is recognisably the same one. */
  private meta(tenantId: string, identity: string, causationId: string, occurredAt: Date) {
    return eventMeta({
      tenantId,
      producer: this.options.producer,
      eventId: derivedUuid(identity),
      occurredAt,
      causationId,
    });
  }
}
