/** Builds some days of a bench table in a worker thread (see table.ts). */
import '@understudy/testbed/source-hooks';
import { parentPort, workerData } from 'node:worker_threads';

const { tablePart } = await import('./table.js');
const options = workerData as Parameters<typeof tablePart>[0];
const part = await tablePart(options);
parentPort?.postMessage(part, [
  part.vectors.buffer,
  part.hasVector.buffer,
  part.signatureOf.buffer,
  part.timesMs.buffer,
]);
