/**
 * One size of the batch benchmark, in a process of its own so that its peak RSS is its own: loads
 * the cached table (speed-run.ts builds it first), runs discovery `repeats` times and prints one
 * JSON line: durations, peak RSS, tasks, and the agreement with the ground truth at this scale.
 */
import '@understudy/testbed/source-hooks';

const { benchTable } = await import('./table.js');
const { defaultDiscoveryPolicy, discoverTasks } =
  await import('../src/domain/discovery/discovery.js');
const { agreement } = await import('../src/testing/metrics.js');

const options = JSON.parse(process.argv[2] ?? '{}') as Parameters<typeof benchTable>[0] & {
  repeats: number;
};
const table = await benchTable(options);
const ms: number[] = [];
let assignment: Int32Array = new Int32Array(0);
let tasks = 0;
for (let r = 0; r < options.repeats; r++) {
  const started = performance.now();
  const discovery = discoverTasks(table, defaultDiscoveryPolicy);
  ms.push(performance.now() - started);
  assignment = discovery.assignment;
  tasks = discovery.tasks.length;
}
const scores = agreement(table.truth, Array.from(assignment));
console.log(
  JSON.stringify({
    ms,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    tasks,
    ari: scores.ari,
    nmi: scores.nmi,
    unassigned: assignment.filter((task) => task < 0).length / assignment.length,
  }),
);
