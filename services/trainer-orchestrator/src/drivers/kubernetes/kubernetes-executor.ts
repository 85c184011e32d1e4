import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { silentLogger, type Logger } from '@understudy/telemetry';
import type { IJob } from 'kubernetes-models/batch/v1';
import {
  parseTrainerLine,
  type TrainerInvocation,
  type TrainerReport,
} from '../../domain/trainer-protocol.js';
import type { Executor, ExecutorEvent, JobHandle } from '../executor.js';
import { buildJob, type JobSettings } from './job-manifest.js';
import type { JobTemplate } from './job-template.js';
import { WatchExpired, type KubeClient } from './kube-client.js';

export interface KubernetesExecutorOptions {
  readonly client: KubeClient;
  readonly template: JobTemplate;
  readonly settings: JobSettings;
  readonly logger?: Logger;
}

const podsOf = (job: string) => `batch.kubernetes.io/job-name=${job}`;

/**
 * Runs the trainer as a Kubernetes Job. Watches the Job (relisting when the watch expires),
 * follows the running pod's log for the trainer's JSON progress lines, and reports the outcome
 * from the Job's conditions and the trainer's last line.
 */
export class KubernetesExecutor implements Executor {
  private readonly logger: Logger;

  constructor(private readonly options: KubernetesExecutorOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  async submit(invocation: TrainerInvocation): Promise<JobHandle> {
    const job = buildJob(invocation, this.options.template, this.options.settings);
    const name = job.metadata?.name ?? '';
    try {
      await this.options.client.createJob(job);
    } catch (error) {
      // A resubmission after a crash finds the Job it created before.
      if (!(error instanceof UnderstudyError && error.code === ErrorCode.AlreadyExists))
        throw error;
    }
    this.logger.info({ job: name, runId: invocation.runId }, 'training Job submitted');
    return { name };
  }

  async *watch(handle: JobHandle, signal: AbortSignal): AsyncGenerator<ExecutorEvent> {
    const followed = new Set<string>();
    let report: TrainerReport | undefined;
    for await (const job of this.changes(handle.name, signal)) {
      if (job === undefined) {
        yield failed('the training Job disappeared before it finished', true);
        return;
      }
      const finished = finishedCondition(job);
      if (finished === undefined && (job.status?.active ?? 0) > 0) {
        const pod = await this.runningPod(handle.name);
        if (pod !== undefined && !followed.has(pod)) {
          followed.add(pod);
          yield { type: 'started', attempt: followed.size };
          for await (const line of this.options.client.podLog(
            pod,
            { container: 'trainer', follow: true },
            signal,
          )) {
            const parsed = parseTrainerLine(line, new Date());
            if (parsed?.event === 'progress') yield { type: 'progress', progress: parsed.progress };
            else if (parsed !== undefined) report = parsed;
          }
        }
      }
      if (finished === undefined) continue;
      report ??= await this.lastReport(handle.name, signal);
      if (finished.type === 'Complete') {
        yield report?.event === 'succeeded'
          ? {
              type: 'succeeded',
              adapterUri: report.adapterUri,
              metrics: report.metrics,
              result: report.result,
            }
          : failed('the Job completed but the trainer reported no adapter', false);
      } else {
        const why = `${finished.reason ?? 'Failed'}: ${finished.message ?? 'the Job failed'}`;
        yield report?.event === 'failed'
          ? failed(`${report.failure.reason} (${why})`, report.failure.retryable)
          : failed(why, false);
      }
      return;
    }
  }

  async cancel(handle: JobHandle): Promise<void> {
    await this.options.client.deleteJob(handle.name);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The Job now, then after every change; undefined when it is gone. Relists on 410 Gone. */
  private async *changes(name: string, signal: AbortSignal): AsyncGenerator<IJob | undefined> {
    const selector = { fieldSelector: `metadata.name=${name}` };
    let resourceVersion: string | undefined;
    while (!signal.aborted) {
      if (resourceVersion === undefined) {
        const list = await this.options.client.listJobs(selector);
        resourceVersion = list.resourceVersion;
        yield list.items[0];
      }
      try {
        for await (const event of this.options.client.watchJobs(
          selector,
          resourceVersion,
          signal,
        )) {
          resourceVersion = event.object.metadata?.resourceVersion ?? resourceVersion;
          if (event.type === 'BOOKMARK') continue;
          yield event.type === 'DELETED' ? undefined : event.object;
        }
      } catch (error) {
        if (!(error instanceof WatchExpired)) throw error;
        this.logger.debug({ job: name }, 'watch expired, listing again');
        resourceVersion = undefined;
      }
    }
  }

  private async runningPod(job: string): Promise<string | undefined> {
    const pods = await this.options.client.listPods(podsOf(job));
    return pods.find((pod) => pod.status?.phase === 'Running')?.metadata?.name;
  }

  /** The trainer's last report from the newest pod's log, when it finished unwatched. */
  private async lastReport(job: string, signal: AbortSignal): Promise<TrainerReport | undefined> {
    const pods = await this.options.client.listPods(podsOf(job));
    const newest = pods
      .filter((pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed')
      .sort((a, b) =>
        (a.metadata?.creationTimestamp ?? '').localeCompare(b.metadata?.creationTimestamp ?? ''),
      )
      .at(-1)?.metadata?.name;
    if (newest === undefined) return undefined;
    let report: TrainerReport | undefined;
    for await (const line of this.options.client.podLog(
      newest,
      { container: 'trainer', follow: false },
      signal,
    )) {
      const parsed = parseTrainerLine(line, new Date());
      if (parsed !== undefined && parsed.event !== 'progress') report = parsed;
    }
    return report;
  }
}

function finishedCondition(job: IJob) {
  return job.status?.conditions?.find(
    (condition) =>
      (condition.type === 'Complete' || condition.type === 'Failed') && condition.status === 'True',
  );
}

const failed = (reason: string, retryable: boolean): ExecutorEvent => ({
  type: 'failed',
  failure: { reason, retryable },
});
