/** Words that say nothing about a task in any English text. */
const stopWords = new Set(
  (
    'the and for are but not you your yours our ours they them their this that these those with ' +
    'from into onto over under about above after before again all any both each few more most ' +
    'other some such only own same than too very can will just don should now was were has have ' +
    'had having does did doing would could might must shall may its his her hers him she what ' +
    'which who whom whose why how when where here there then once off out while because until ' +
    'also been being let get got please thanks thank hello dear yes via per one two three'
  ).split(' '),
);

/** Lowercase words of three or more letters, stop words and anything with a digit left out. */
export function termsOf(text: string): string[] {
  return (
    text
      .normalize('NFKC')
      .toLowerCase()
      .match(/\p{L}{3,}/gu) ?? []
  ).filter((word) => !stopWords.has(word));
}

/** The distinct terms of `text`, most frequent first (ties in order of appearance), at most `limit`. */
export function topTerms(text: string, limit: number): string[] {
  const counts = new Map<string, number>();
  for (const term of termsOf(text)) counts.set(term, (counts.get(term) ?? 0) + 1);
  // A map iterates in order of insertion and the sort is stable: ties keep their first occurrence.
  return [...counts]
    .sort(([, a], [, b]) => b - a)
    .slice(0, limit)
    .map(([term]) => term);
}
