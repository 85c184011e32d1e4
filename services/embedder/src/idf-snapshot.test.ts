import { Readable } from 'node:stream';
import { toJsonString } from '@bufbuild/protobuf';
import { LlmCallSchema } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { varyingText } from './domain/content.js';
import { normalizeText } from './domain/featurizer.js';
import { IdfTable } from './domain/idf.js';
import { fitSnapshot } from './idf-snapshot.js';
import { llmCall } from './testing/calls.js';

const lines = (...rows: string[]) => Readable.from(rows.map((row) => `${row}\n`));

describe('fitSnapshot', () => {
  const calls = [
    llmCall({ system: 'Route tickets.', user: 'Printer on fire', toolResult: 'ticket 1 open' }),
    llmCall({ system: 'Route tickets.', user: 'Wifi is slow' }),
    llmCall({}),
  ];

  it('fits on the text the service embeds, skipping calls without content', async () => {
    const table = await fitSnapshot(
      lines(...calls.map((call) => toJsonString(LlmCallSchema, call)), ''),
      { seed: 1, maxInputChars: 4_000 },
    );
    const texts = calls.slice(0, 2).map((call) => {
      const content = call.content.case === 'plainContent' ? call.content.value : undefined;
      return normalizeText(content === undefined ? '' : varyingText(content, 4_000));
    });
    expect(table.version).toBe(IdfTable.fit(texts, { seed: 1 }).version);
    expect(table.documents).toBe(2);
  });

  it('names the line that is not a call, and refuses a snapshot without content', async () => {
    await expect(
      fitSnapshot(lines(toJsonString(LlmCallSchema, calls[0]!), '{"callId": 7'), {
        seed: 1,
        maxInputChars: 4_000,
      }),
    ).rejects.toThrow('line 2 is not an LlmCall in JSON');
    await expect(
      fitSnapshot(lines(toJsonString(LlmCallSchema, calls[2]!)), { seed: 1, maxInputChars: 4_000 }),
    ).rejects.toThrow('the snapshot holds no call with plain content');
  });
});
