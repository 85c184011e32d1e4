import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { text } from 'node:stream/consumers';
import { pathToFileURL } from 'node:url';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { ObjectStore } from '@understudy/storage';
import { silentLogger, type Logger } from '@understudy/telemetry';
import type { TrainerInvocation } from '../../domain/trainer-protocol.js';
import type { Executor, ExecutorEvent, JobHandle } from '../executor.js';

export interface StagingExecutorOptions {
  readonly store: ObjectStore;
  /** The bucket that `s3://` URIs of this store name. */
  readonly bucket: string;
  /** Where each run's inputs and outputs are staged, in `<runId>/`. */
  readonly workDir: string;
  readonly logger?: Logger;
}

interface StagedRun {
  readonly dir: string;
  readonly localOutput: string;
  readonly outputUri: string;
}

/**
 * Runs a local trainer against an object store it cannot reach itself (the embedded platform's
 * filesystem store), as an init container and an upload sidecar would: copies the dataset's
 * manifest and splits into the run's directory, points the trainer at `file://` URIs there, and
 * when it finishes uploads its outputs under the run's `s3://` output prefix, where the adapter
 * is then reported.
 */
export class StagingExecutor implements Executor {
  private readonly runs = new Map<string, StagedRun>();
  private readonly logger: Logger;

  constructor(
    private readonly inner: Executor,
    private readonly options: StagingExecutorOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  async submit(invocation: TrainerInvocation): Promise<JobHandle> {
    const dir = join(this.options.workDir, invocation.runId);
    const localOutput = `${pathToFileURL(join(dir, 'output')).href}/`;
    const manifest = await this.stageDataset(invocation.datasetUri, join(dir, 'input'));
    const handle = await this.inner.submit({
      ...invocation,
      datasetUri: pathToFileURL(manifest).href,
      outputUri: localOutput,
    });
    this.runs.set(handle.name, { dir, localOutput, outputUri: invocation.outputUri });
    return handle;
  }

  async *watch(handle: JobHandle, signal: AbortSignal): AsyncGenerator<ExecutorEvent> {
    const run = this.runs.get(handle.name);
    for await (const event of this.inner.watch(handle, signal)) {
      if (run === undefined || (event.type !== 'succeeded' && event.type !== 'failed')) {
        yield event;
        continue;
      }
      // Failed runs upload too: their train.log says why.
      await this.upload(run);
      this.runs.delete(handle.name);
      yield event.type === 'succeeded'
        ? { ...event, adapterUri: run.outputUri + event.adapterUri.slice(run.localOutput.length) }
        : event;
    }
  }

  cancel(handle: JobHandle): Promise<void> {
    return this.inner.cancel(handle);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Copies the manifest and its splits to `dir`; returns the path of the rewritten manifest. */
  private async stageDataset(datasetUri: string, dir: string): Promise<string> {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const manifest = JSON.parse(await text(await this.options.store.get(this.key(datasetUri)))) as {
      splits?: Record<string, { uri: string }>;
    };
    for (const [name, split] of Object.entries(manifest.splits ?? {})) {
      const path = join(dir, `${name}.jsonl`);
      await pipeline(await this.options.store.get(this.key(split.uri)), createWriteStream(path));
      split.uri = pathToFileURL(path).href;
    }
    const path = join(dir, 'manifest.json');
    await writeFile(path, JSON.stringify(manifest));
    return path;
  }

  private async upload(run: StagedRun): Promise<void> {
    const root = join(run.dir, 'output');
    const prefix = this.key(run.outputUri);
    const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
    const files = entries
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name));
    for (const path of files) {
      await this.options.store.put(`${prefix}${relative(root, path)}`, createReadStream(path));
    }
    this.logger.info({ prefix, files: files.length }, 'run outputs uploaded');
    await rm(run.dir, { recursive: true, force: true });
  }

  /** The store key of an `s3://<bucket>/<key>` URI. */
  private key(uri: string): string {
    const prefix = `s3://${this.options.bucket}/`;
    if (!uri.startsWith(prefix)) {
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        `${uri} is not in the platform's object store (${prefix})`,
      );
    }
    return uri.slice(prefix.length);
  }
}
