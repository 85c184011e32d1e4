import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { CallCapturedSchema, Role, type LlmCall } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { corpusTasks, generateCorpus, type LabelledCall } from './corpus.js';

const corpus = [...generateCorpus({ seed: 3, calls: 3000 })];

const partText = (call: LlmCall, role: Role): string => {
  if (call.content.case !== 'plainContent') return '';
  return call.content.value.inputMessages
    .filter((message) => message.role === role)
    .flatMap((message) => message.parts)
    .map((part) => (part.kind.case === 'text' ? part.kind.value.text : ''))
    .join('\n');
};
const user = (labelled: LabelledCall) => partText(labelled.captured.call as LlmCall, Role.USER);
const system = (labelled: LabelledCall) => partText(labelled.captured.call as LlmCall, Role.SYSTEM);

describe('generateCorpus', () => {
  it('is the same for a seed, different for another, and the same a day at a time', () => {
    const key = (calls: readonly LabelledCall[]) =>
      calls.map((c) => `${c.captured.call?.callId ?? ''}:${c.task}`);
    expect(key([...generateCorpus({ seed: 3, calls: 3000 })])).toEqual(key(corpus));
    expect(key([...generateCorpus({ seed: 4, calls: 3000 })])).not.toEqual(key(corpus));
    const dayFive = [...generateCorpus({ seed: 3, calls: 3000, only: [5, 6] })];
    expect(key(dayFive)).toEqual(key(corpus.filter((call) => call.day === 5)));
  });

  it('labels every call with one of at least eight tasks from several agent archetypes', () => {
    const tasks = new Set(corpus.map((call) => call.task));
    expect(tasks.size).toBe(corpusTasks.length);
    expect(tasks.size).toBeGreaterThanOrEqual(8);
    expect(new Set(corpus.map((call) => call.archetype)).size).toBeGreaterThanOrEqual(5);
    expect(tasks).toContain('assistant.chitchat');
    expect(corpus.length).toBeGreaterThan(2700);
    expect(corpus.length).toBeLessThan(3300);
  });

  it('produces valid CallCaptured events in time order', () => {
    for (const labelled of corpus.slice(0, 200)) {
      const bytes = toBinary(CallCapturedSchema, labelled.captured);
      expect(fromBinary(CallCapturedSchema, bytes)).toEqual(labelled.captured);
      expect(labelled.captured.call?.callId).toMatch(/^[0-9a-f]{32}$/);
      expect(labelled.captured.meta?.tenantId).toBe('acme');
    }
    expect(
      corpus.every((call, i) => i === 0 || (corpus[i - 1] as LabelledCall).timeMs <= call.timeMs),
    ).toBe(true);
  });

  it('starts and stops tasks and prompts on their days', () => {
    const days = (task: string) =>
      new Set(corpus.filter((call) => call.task === task).map((call) => call.day));
    expect(Math.min(...days('assistant.sql'))).toBe(4);
    expect(Math.max(...days('code.commit-message'))).toBe(8);
    const paraphrased = corpus.filter((call) =>
      system(call).startsWith('Classify the incoming help-desk message'),
    );
    expect(paraphrased.length).toBeGreaterThan(0);
    expect(paraphrased.every((call) => call.task === 'support.route' && call.day >= 6)).toBe(true);
  });

  it('mixes paraphrased prompts, calls without content, retries and lengths from words to pages', () => {
    const invoicePrompts = new Set(
      corpus
        .filter((call) => call.task === 'docs.invoice-extract')
        .map((call) => system(call).slice(0, 30)),
    );
    expect(invoicePrompts.size).toBe(2);
    const dark = corpus.filter((call) => call.captured.call?.contentCaptured === false);
    expect(dark.length).toBeGreaterThan(0);
    expect(new Set(dark.map((call) => call.task))).toEqual(new Set(['support.order-status']));
    const texts = corpus.map(user);
    expect(new Set(texts).size).toBeLessThan(corpus.length - dark.length);
    const lengths = texts.filter((text) => text !== '').map((text) => text.length);
    expect(Math.min(...lengths)).toBeLessThan(40);
    expect(Math.max(...lengths)).toBeGreaterThan(2000);
  });
});
