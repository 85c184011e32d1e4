/**
 * Measures the redactor: precision and recall per entity on the labelled corpus
 * (test/redaction/corpus.jsonl), and the time to redact 4 KB of text.
 *
 *   cd services/collector && node --conditions=@understudy/source bench/redaction-eval.ts [--errors]
 *
 * Node runs the TypeScript sources directly (type stripping); @understudy/testbed/source-hooks
 * lets the sources' `./x.js` imports find `./x.ts`, as tsc and Vitest do.
 */
import '@understudy/testbed/source-hooks';
import { cpus } from 'node:os';
import type { Score } from '../src/domain/redaction/testing/corpus.js';

const { createRedactor } = await import('../src/domain/redaction/redactor.js');
const { evaluate, loadCorpus } = await import('../src/domain/redaction/testing/corpus.js');

const redactor = createRedactor({
  secret: new TextEncoder().encode('bench-secret-of-at-least-32-bytes!'),
});
const corpus = loadCorpus();

// Quality ------------------------------------------------------------------------------------

const pct = (value: number): string => `${(100 * value).toFixed(1)}%`;
const cells = (s: Score): string => `${pct(s.precision)} | ${pct(s.recall)}`;

function report(title: string, items: typeof corpus): void {
  const result = evaluate(redactor, items);
  const labelled = result.overall.overlap.labelled;
  console.log(
    `\n### ${title}: ${String(result.items)} items, ${String(labelled)} labelled spans, ` +
      `${String(result.negativeItems)} without any\n`,
  );
  console.log('| entity | labelled | found | exact P | exact R | overlap P | overlap R |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const e of [...result.entities, result.overall]) {
    const name = e.entity === 'overall' ? '**overall**' : e.entity;
    console.log(
      `| ${name} | ${String(e.overlap.labelled)} | ${String(e.overlap.predicted)} | ` +
        `${cells(e.exact)} | ${cells(e.overlap)} |`,
    );
  }
  console.log(
    `\nLabelled spans removed by a finding of any type: ${pct(result.removedAnyType / labelled)}. ` +
      `Items without labels that got a finding: ${String(result.negativeItemsWithFindings)} of ` +
      `${String(result.negativeItems)}.`,
  );
  if (process.argv.includes('--errors')) console.log(`\n${result.errors.join('\n')}`);
}

// The generated items were written alongside the detectors; the hand-written ones were not
// tuned against, so they say more about unseen text.
report(
  'Generated corpus',
  corpus.filter((item) => item.source !== 'handwritten'),
);
report(
  'Hand-written items',
  corpus.filter((item) => item.source === 'handwritten'),
);

// Speed --------------------------------------------------------------------------------------

const target = 4096;
/** 4 KB of the pieces, taken with a stride so that every kind of text is in it. */
function fill(pieces: readonly string[]): string {
  let text = '';
  for (let i = 0; text.length < target; i++) text += `${pieces[(i * 37) % pieces.length] ?? ''}\n`;
  return text.slice(0, target);
}
const prose = fill([
  'The agent read the ticket, looked up the customer in the CRM and found two open orders.',
  'It then called the shipping tool, which answered that both parcels left the warehouse on',
  'Monday and should arrive within three working days. The customer asked whether the second',
  'parcel could be sent to a different address; the policy allows this before dispatch only,',
  'so the agent explained the options and offered a return label instead. Finally it wrote a',
  'short summary for the support team with the next steps and closed the conversation politely.',
]);
const negatives = fill(
  corpus.filter((item) => item.source === 'negative').map((item) => item.text),
);
const positives = fill(corpus.filter((item) => item.spans.length > 0).map((item) => item.text));

/** Median time to redact the text in a session of its own, as each call gets one. */
function microseconds(text: string): number {
  const redactOnce = (): string => redactor.session('bench-tenant').text(text);
  for (let i = 0; i < 2000; i++) redactOnce();
  const rounds: number[] = [];
  for (let round = 0; round < 7; round++) {
    const n = 2000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) redactOnce();
    rounds.push(Number(process.hrtime.bigint() - start) / n / 1000);
  }
  return rounds.sort((a, b) => a - b)[3] ?? 0;
}

console.log(
  `\nSpeed (${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, one thread):\n`,
);
console.log('| 4 KB text | entities | µs per text (median of 7) | MB/s |');
console.log('|---|---:|---:|---:|');
for (const [label, text] of [
  ['prose, nothing to redact', prose],
  ['hard negatives (ids, hashes, code), nothing to redact', negatives],
  ['corpus positives, dense with entities', positives],
] as const) {
  const us = microseconds(text);
  const entities = redactor.detect(text).length;
  console.log(
    `| ${label} | ${String(entities)} | ${us.toFixed(1)} | ${(text.length / us).toFixed(0)} |`,
  );
}
