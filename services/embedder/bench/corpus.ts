/**
 * The clustering corpus of services/clusterer (labelled multi-agent traffic), as the embedder
 * sees it: each call's text to embed, with the task it really does.
 */
import type { LlmCall } from '@understudy/contracts';
// The benches measure the embedder on the clusterer's evaluation corpus; services never import
// each other at run time, and this import is confined to bench code.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { generateCorpus } from '../../clusterer/src/testing/corpus/corpus.js';
import { varyingText } from '../src/domain/content.js';
import { normalizeText } from '../src/domain/featurizer.js';

export interface LabelledText {
  readonly call: LlmCall;
  readonly text: string;
  readonly task: string;
}

/** The corpus' calls with captured content, their text selected as the service selects it. */
export function corpusTexts(seed: number, calls: number, maxInputChars = 4_000): LabelledText[] {
  const texts: LabelledText[] = [];
  for (const { captured, task } of generateCorpus({ seed, calls })) {
    const call = captured.call;
    if (call?.content.case !== 'plainContent') continue;
    const text = normalizeText(varyingText(call.content.value, maxInputChars));
    if (text !== '') texts.push({ call, text, task });
  }
  return texts;
}
