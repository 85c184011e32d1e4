import { dotRow } from './vectors.js';

/**
 * What makes a task readable: its distinctive words (class-based TF-IDF, as BERTopic's
 * c-TF-IDF: a word scores high when frequent in this task and rare across the others), its most
 * typical calls, its size and its rate.
 */

export interface TermOptions {
  /** Terms per task. */
  readonly top: number;
  /** Least share of the task's texts a term must appear in, so one long text cannot dominate. */
  readonly minDocumentShare: number;
}

/**
 * The `top` distinctive terms of each task, from its members' terms (one list per call; a sample
 * is enough: the scores are frequencies). c-TF-IDF: tf(t, task) / words(task) · ln(1 + mean
 * words per task / tf(t, all tasks)).
 */
export function distinctiveTerms(
  termsByTask: readonly (readonly (readonly string[])[])[],
  options: TermOptions = { top: 6, minDocumentShare: 0.05 },
): string[][] {
  const counts = termsByTask.map((texts) => {
    const frequency = new Map<string, number>();
    const documents = new Map<string, number>();
    for (const terms of texts) {
      for (const term of terms) frequency.set(term, (frequency.get(term) ?? 0) + 1);
      for (const term of new Set(terms)) documents.set(term, (documents.get(term) ?? 0) + 1);
    }
    return { frequency, documents, texts: texts.length };
  });
  const total = new Map<string, number>();
  let words = 0;
  for (const { frequency } of counts) {
    for (const [term, tf] of frequency) {
      total.set(term, (total.get(term) ?? 0) + tf);
      words += tf;
    }
  }
  const meanWords = words / Math.max(1, counts.length);
  return counts.map(({ frequency, documents, texts }) => {
    const taskWords = [...frequency.values()].reduce((a, b) => a + b, 0);
    return [...frequency]
      .filter(
        ([term]) => (documents.get(term) ?? 0) >= Math.max(1, options.minDocumentShare * texts),
      )
      .map(([term, tf]) => ({
        term,
        score: (tf / taskWords) * Math.log(1 + meanWords / (total.get(term) ?? tf)),
      }))
      .sort((a, b) => b.score - a.score || (a.term < b.term ? -1 : 1))
      .slice(0, options.top)
      .map(({ term }) => term);
  });
}

/**
 * The members most similar to the task's centroid, most typical first, one per distinct content
 * (retries and copies of one prompt show once).
 */
export function representatives(
  vectors: Float32Array,
  dimension: number,
  members: ArrayLike<number>,
  centroid: ArrayLike<number>,
  contentKeyOf: (call: number) => string,
  count: number,
): number[] {
  const ranked = Array.from(members, (call) => ({
    call,
    similarity: dotRow(vectors, call, centroid, 0, dimension),
  })).sort((a, b) => b.similarity - a.similarity || a.call - b.call);
  const seen = new Set<string>();
  const chosen: number[] = [];
  for (const { call } of ranked) {
    if (chosen.length === count) break;
    const key = contentKeyOf(call);
    if (seen.has(key)) continue;
    seen.add(key);
    chosen.push(call);
  }
  return chosen;
}

/** A task's label: where its calls come from, then its distinctive terms. */
export function taskLabel(
  place: { readonly agentName: string; readonly stepName: string },
  terms: readonly string[],
): string {
  const where = [place.agentName, place.stepName].filter((part) => part !== '').join(' / ');
  const what = terms.slice(0, 4).join(', ');
  return [where, what].filter((part) => part !== '').join(': ') || 'unnamed task';
}

/** Average calls per day over the `days` before `nowMs`: the task's rate. */
export function callsPerDay(callTimesMs: Iterable<number>, nowMs: number, days: number): number {
  const since = nowMs - days * 86_400_000;
  let recent = 0;
  for (const time of callTimesMs) if (time > since && time <= nowMs) recent += 1;
  return recent / days;
}
