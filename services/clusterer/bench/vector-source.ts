/**
 * Where the benches get signatures and vectors from: the embedder's own code, so that the
 * clusterer is measured on what it will receive. The embedder's backends are changing, so the
 * embedding step sits behind `TextEmbedder`: another backend (an ONNX model, an HTTP endpoint)
 * plugs in by name without touching the harness.
 */
import type { LlmCall, StructuralSignature } from '@understudy/contracts';
// The bench measures the clusterer on the embedder's derivation; services never import each
// other at run time, and this import is confined to bench code.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { varyingText } from '../../embedder/src/domain/content.js';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { Featurizer, normalizeText } from '../../embedder/src/domain/featurizer.js';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { structuralSignature } from '../../embedder/src/domain/signature.js';

export interface TextEmbedder {
  /** Vectors of different models never compare. */
  readonly model: string;
  /** Unit vectors, one per text, all of one dimension. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

export interface DerivedCall {
  readonly signature: StructuralSignature;
  /** The normalised text that varies within a task (what gets embedded); '' without content. */
  readonly text: string;
}

/** The embedder's default `UNDERSTUDY_EMBEDDER_MAX_INPUT_CHARS`: longer text is clipped. */
const maxInputChars = 4_000;

/** The embedder's derivation of a call: its signature and the text it embeds. */
export function derive(call: LlmCall): DerivedCall {
  const content = call.content.case === 'plainContent' ? call.content.value : undefined;
  return {
    signature: structuralSignature(call, content),
    text: content === undefined ? '' : normalizeText(varyingText(content, maxInputChars)),
  };
}

/** The embedding backends the benches know, by name. */
export const embedders: Record<string, (dimension: number) => TextEmbedder> = {
  /** The embedder's built-in CPU featurizer (hashed n-grams), seed 1 as deployed by default. */
  featurizer: (dimension) => {
    const featurizer = new Featurizer({ dimension, seed: 1 });
    return {
      model: featurizer.model,
      embed: (texts) => Promise.resolve(texts.map((text) => featurizer.embed(text))),
    };
  },
};
