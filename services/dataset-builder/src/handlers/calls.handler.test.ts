import { create, equals } from '@bufbuild/protobuf';
import {
  CallCapturedSchema,
  EventMetaSchema,
  LlmCallSchema,
  type LlmCall,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { Header, InProcessDriver, Messaging, topics } from '@understudy/messaging';
import type { ObjectStore } from '@understudy/storage';
import type { ContentKeyring } from '@understudy/tenancy';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DatasetBuilder } from '../domain/dataset-builder.js';
import type { DatasetRegistry, DatasetStore } from '../domain/ports.js';
import { chatCall, encrypted, testKeyring } from '../testing/calls.js';
import { CallsHandler } from './calls.handler.js';

const unused = (): never => {
  throw new UnderstudyError(ErrorCode.Unimplemented, 'not in this test double');
};

/** A store that keeps calls and knows no tasks: intake only, nothing gets built. */
function intakeStore(saved: LlmCall[]): DatasetStore {
  return {
    saveCall: (call) => {
      saved.push(call);
      return Promise.resolve();
    },
    tasksWithMember: () => Promise.resolve([]),
    calls: unused,
    saveTask: unused,
    retireTasks: unused,
    task: unused,
    claimBuild: unused,
    finishBuild: unused,
    failBuild: unused,
    build: unused,
  };
}

const registry: DatasetRegistry = { createDataset: unused };
const objects: ObjectStore = {
  init: unused,
  put: unused,
  get: unused,
  getRange: unused,
  stat: unused,
  exists: unused,
  delete: unused,
  list: unused,
};

interface DeadLetter {
  readonly headers: Readonly<Record<string, string>>;
}

/** CallsHandler behind the consumer runner on an in-process bus, as the service wires it. */
async function intake(keyring: ContentKeyring | undefined) {
  const bus = new InProcessDriver({ redeliveryDelayMs: 10 });
  const messaging = new Messaging({ driver: bus, producerName: 'dataset-builder' });
  const saved: LlmCall[] = [];
  const deadLetters: DeadLetter[] = [];
  const builder = new DatasetBuilder(
    { store: intakeStore(saved), objects, registry, messaging },
    {
      policy: { minCalls: 1, evalFraction: 0.5 },
      bucket: 'datasets',
      producer: 'dataset-builder',
      builderVersion: 'dataset-builder@test',
      keyring,
    },
  );
  const handler = new CallsHandler(builder);
  messaging.on(topics.callsCaptured, { group: 'dataset-builder' }, (event) =>
    handler.onCallCaptured(event),
  );
  await messaging.start();
  const dead = bus.createConsumer({
    group: 'test-dead-letters',
    topics: [topics.callsCaptured.deadLetter.name],
    concurrency: 1,
    deliver: (record) => {
      const decoder = new TextDecoder();
      deadLetters.push({
        headers: Object.fromEntries(
          Object.entries(record.headers).map(([name, value]) => [name, decoder.decode(value)]),
        ),
      });
      return Promise.resolve();
    },
  });
  await dead.start();
  stops.push(async () => {
    await dead.stop();
    await messaging.stop();
  });
  const publish = (calls: readonly LlmCall[]) =>
    messaging.publishAll(
      topics.callsCaptured,
      calls.map((call) =>
        create(CallCapturedSchema, {
          meta: create(EventMetaSchema, { eventId: crypto.randomUUID(), tenantId: 'acme' }),
          call,
        }),
      ),
    );
  return { saved, deadLetters, publish };
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

describe('CallsHandler with encrypted content', () => {
  const { keyring } = testKeyring('acme');

  it('keeps an encrypted call as it came, still encrypted, when its key is configured', async () => {
    const { saved, deadLetters, publish } = await intake(keyring);
    const sealed = encrypted(chatCall({ callId: 'sealed' }), keyring);
    await publish([sealed, chatCall({ callId: 'plain' })]);
    await vi.waitFor(() => {
      expect(saved.map((call) => call.callId).sort()).toEqual(['plain', 'sealed']);
    });
    const kept = saved.find((call) => call.callId === 'sealed');
    expect(kept?.content.case).toBe('encryptedContent');
    expect(equals(LlmCallSchema, kept!, sealed)).toBe(true);
    expect(deadLetters).toEqual([]);
  });

  it('dead-letters an encrypted call it cannot open, saying why, and keeps nothing of it', async () => {
    const { saved, deadLetters, publish } = await intake(undefined);
    await publish([
      encrypted(chatCall({ callId: 'sealed' }), keyring),
      chatCall({ callId: 'plain' }),
    ]);
    await vi.waitFor(() => {
      expect(deadLetters).toHaveLength(1);
      expect(saved).toHaveLength(1);
    });
    expect(saved[0]?.callId).toBe('plain');
    expect(deadLetters[0]?.headers).toMatchObject({
      [Header.ErrorCode]: 'FAILED_PRECONDITION',
      [Header.ErrorMessage]:
        'content of call sealed is encrypted and no content keys are configured (UNDERSTUDY_CONTENT_KEYS_FILE)',
      [Header.Attempts]: '1',
    });
  });

  it("dead-letters content sealed with a key the builder's file does not list", async () => {
    const { saved, deadLetters, publish } = await intake(testKeyring('acme').keyring);
    const other = testKeyring('globex').keyring;
    await publish([encrypted(chatCall({ callId: 'foreign', tenantId: 'globex' }), other)]);
    await vi.waitFor(() => {
      expect(deadLetters).toHaveLength(1);
    });
    expect(saved).toEqual([]);
    expect(deadLetters[0]?.headers).toMatchObject({
      [Header.ErrorCode]: 'FAILED_PRECONDITION',
      [Header.ErrorMessage]:
        'content of call foreign is encrypted with key "globex-key", which is not in the content keys file',
    });
  });
});
