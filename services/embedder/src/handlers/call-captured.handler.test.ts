import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, fromBinary } from '@bufbuild/protobuf';
import {
  CallCapturedSchema,
  EventMetaSchema,
  type CallEmbedded,
  type LlmCall,
} from '@understudy/contracts';
import { Header, InProcessDriver, Messaging, topics } from '@understudy/messaging';
import { startService } from '@understudy/service';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { definition } from '../service.js';
import { encrypted, llmCall, testKeyring } from '../testing/calls.js';

const tenantId = 'tenant-a';
const { keyring, json: keysFile } = testKeyring(tenantId);

interface DeadLetter {
  readonly callId: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The embedder on an in-process bus with the given settings; a client publishes CallCaptured and
 * collects what comes out: CallEmbedded and dead letters.
 */
async function embedderWith(env: Record<string, string>) {
  const bus = new InProcessDriver({ redeliveryDelayMs: 10 });
  const service = await startService(
    definition,
    {
      UNDERSTUDY_GRPC_HOST: '127.0.0.1',
      UNDERSTUDY_GRPC_PORT: '0',
      UNDERSTUDY_OPS_HOST: '127.0.0.1',
      UNDERSTUDY_OPS_PORT: '0',
      UNDERSTUDY_LOG_LEVEL: 'silent',
      ...env,
    },
    { drivers: { bus } },
  );
  const embedded: CallEmbedded[] = [];
  const deadLetters: DeadLetter[] = [];
  const client = new Messaging({ driver: bus, producerName: 'test' });
  client.on(topics.callsEmbedded, { group: 'test-embedded' }, (event) => {
    embedded.push(event);
  });
  await client.start();
  const dead = bus.createConsumer({
    group: 'test-dead-letters',
    topics: [topics.callsCaptured.deadLetter.name],
    concurrency: 1,
    deliver: (record) => {
      const event = fromBinary(CallCapturedSchema, record.value ?? new Uint8Array());
      const headers = Object.fromEntries(
        Object.entries(record.headers).map(([name, value]) => [
          name,
          new TextDecoder().decode(value),
        ]),
      );
      deadLetters.push({ callId: event.call?.callId, headers });
      return Promise.resolve();
    },
  });
  await dead.start();
  return {
    embedded,
    deadLetters,
    publish: (calls: readonly LlmCall[]) =>
      client.publishAll(
        topics.callsCaptured,
        calls.map((call) =>
          create(CallCapturedSchema, {
            meta: create(EventMetaSchema, { eventId: crypto.randomUUID(), tenantId }),
            call,
          }),
        ),
      ),
    stop: async () => {
      await dead.stop();
      await client.stop();
      await service.stop();
    },
  };
}

describe('CallCapturedHandler with encrypted content', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'embedder-keys-'));
    await writeFile(join(dir, 'content-keys.json'), keysFile);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const fixture = {
    tenantId,
    system: 'Triage ticket 12.',
    user: 'Printer on fire',
    answers: [{ toolCalls: [{ name: 'page', arguments: '{"team":"facilities"}' }] }],
  };

  it('embeds an encrypted call like its plain twin when the keys are configured', async () => {
    const embedder = await embedderWith({
      UNDERSTUDY_CONTENT_KEYS_FILE: join(dir, 'content-keys.json'),
    });
    try {
      await embedder.publish([
        llmCall({ ...fixture, callId: 'plain' }),
        encrypted(llmCall({ ...fixture, callId: 'sealed' }), keyring),
      ]);
      await vi.waitFor(() => {
        expect(embedder.embedded).toHaveLength(2);
      });
      const [plain, sealed] = ['plain', 'sealed'].map((id) =>
        embedder.embedded.find((event) => event.call?.callId === id),
      );
      expect(sealed?.contentHash).toMatch(/^[0-9a-f]{64}$/);
      expect(sealed?.contentHash).toBe(plain?.contentHash);
      expect(sealed?.signature?.digest).toBe(plain?.signature?.digest);
      expect(sealed?.embedding?.values).toEqual(plain?.embedding?.values);
      expect(sealed?.summary?.contentCaptured).toBe(true);
      expect(plain?.terms).toEqual(['printer', 'fire']);
      expect(sealed?.terms).toEqual(plain?.terms);
      expect(plain?.summary?.output).toMatchObject({ json: false, toolCall: true, choices: 1 });
      expect(plain?.summary?.output?.digest).toMatch(/^[0-9a-f]{64}$/);
      expect(sealed?.summary?.output).toEqual(plain?.summary?.output);
      expect(embedder.deadLetters).toEqual([]);
    } finally {
      await embedder.stop();
    }
  });

  it('dead-letters an encrypted call at once, saying why, when no keys are configured', async () => {
    const embedder = await embedderWith({});
    try {
      await embedder.publish([
        encrypted(llmCall({ ...fixture, callId: 'sealed' }), keyring),
        llmCall({ ...fixture, callId: 'plain' }),
      ]);
      await vi.waitFor(() => {
        expect(embedder.deadLetters).toHaveLength(1);
        expect(embedder.embedded).toHaveLength(1);
      });
      expect(embedder.embedded[0]?.call?.callId).toBe('plain');
      const [dead] = embedder.deadLetters;
      expect(dead?.callId).toBe('sealed');
      expect(dead?.headers).toMatchObject({
        [Header.ErrorCode]: 'FAILED_PRECONDITION',
        [Header.ErrorMessage]:
          'content of call sealed is encrypted and no content keys are configured (UNDERSTUDY_CONTENT_KEYS_FILE)',
        [Header.Attempts]: '1',
      });
    } finally {
      await embedder.stop();
    }
  });

  it('refuses to start with a keys file that does not validate', async () => {
    const path = join(dir, 'broken.json');
    await writeFile(path, keysFile.replace('"active":true', '"active":"yes"'));
    await expect(embedderWith({ UNDERSTUDY_CONTENT_KEYS_FILE: path })).rejects.toThrow(
      `${path} is not a content keys file: 0.active`,
    );
  });
});
