import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { CaptureFragmentSchema, UsageSchema, type CaptureFragment } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { FilesystemDriver } from '@understudy/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContentGuard } from '../domain/fragments.js';
import { chatSpan, exportRequest } from '../testing/otlp-requests.js';
import { FragmentIngest, type PublishFragments } from './fragment-ingest.js';

/** A guard that, like a mapper bug, leaves a count no int32 holds on the calls of service `bad`. */
const guard: ContentGuard = {
  call: (call) => {
    if (call.context?.serviceName === 'bad') {
      call.usage = create(UsageSchema, { inputTokens: 2 ** 31 });
    }
  },
  step: () => undefined,
  event: () => undefined,
};

let root: string;
let store: FilesystemDriver;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'understudy-fragment-ingest-'));
  store = new FilesystemDriver({ root });
  await store.init();
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Encodes every fragment before sending any, as the Kafka publisher does. */
function recordingPublish(published: CaptureFragment[], failure?: Error): PublishFragments {
  return (fragments) => {
    if (failure) return Promise.reject(failure);
    for (const fragment of fragments) toBinary(CaptureFragmentSchema, fragment);
    published.push(...fragments);
    return Promise.resolve();
  };
}

const ingestWith = (publish: PublishFragments) =>
  new FragmentIngest({ publish, guard, store, bucket: 'understudy', producer: 'collector' });

describe('FragmentIngest', () => {
  it('leaves out what cannot be encoded and publishes the rest of the export', async () => {
    const published: CaptureFragment[] = [];
    const request = exportRequest([chatSpan()]);
    const bad = exportRequest([chatSpan()], { serviceName: 'bad' });
    request.resourceSpans.push(...bad.resourceSpans);

    const result = await ingestWith(recordingPublish(published)).traces('acme', request);

    expect(result).toEqual({ rejected: 1, message: '1 records could not be encoded' });
    expect(published).toHaveLength(1);
  });

  it('fails retryably when Kafka does not take an export it could encode', async () => {
    const published: CaptureFragment[] = [];
    const down = new UnderstudyError(ErrorCode.Unavailable, 'no broker');
    const ingest = ingestWith(recordingPublish(published, down));

    await expect(ingest.traces('acme', exportRequest([chatSpan()]))).rejects.toMatchObject({
      code: ErrorCode.Unavailable,
    });
    await expect(
      ingestWith(recordingPublish(published, new Error('socket hang up'))).traces(
        'acme',
        exportRequest([chatSpan()]),
      ),
    ).rejects.toMatchObject({ code: ErrorCode.Unavailable, message: 'storing the export failed' });
    expect(published).toHaveLength(0);
  });
});
