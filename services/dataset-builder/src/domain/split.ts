import { createHash } from 'node:crypto';

export interface Splittable {
  readonly callId: string;
  /** Items with the same key are near-duplicates and always land on the same side. */
  readonly groupKey: string;
}

export interface Split<T> {
  readonly train: readonly T[];
  readonly eval: readonly T[];
}

/**
 * A deterministic train/eval split. Groups of near-duplicates are ranked by a hash seeded with
 * the task id, then taken into eval in rank order while they fit the target size, so the same
 * items always split the same way and no group straddles the two sides. The eval side gets
 * `round(n · fraction)` items (at least one when n ≥ 2) unless group sizes make that impossible,
 * and the train side is never left empty.
 */
export function splitExamples<T extends Splittable>(
  items: readonly T[],
  seed: string,
  evalFraction: number,
): Split<T> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(item.groupKey);
    if (group === undefined) groups.set(item.groupKey, [item]);
    else group.push(item);
  }
  const ranked = [...groups.entries()]
    .map(([key, members]) => ({ rank: sha256(`${seed}\n${key}`), members }))
    .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0));

  const n = items.length;
  const wanted = n < 2 ? 0 : Math.max(1, Math.round(n * evalFraction));
  const target = Math.min(wanted, n - 1);
  const train: T[] = [];
  const evaluation: T[] = [];
  for (const { members } of ranked) {
    if (evaluation.length + members.length <= target) evaluation.push(...members);
    else train.push(...members);
  }
  const byCallId = (a: T, b: T) => (a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0);
  return { train: train.sort(byCallId), eval: evaluation.sort(byCallId) };
}

/**
 * The key under which near-duplicate prompts meet: the prompt text with case, whitespace and
 * digits evened out, so prompts that differ only in a number or spacing share a side.
 */
export function nearDuplicateKey(prompt: string): string {
  const normalized = prompt.toLowerCase().replace(/\d+/g, '0').replace(/\s+/g, ' ').trim();
  return sha256(normalized);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
