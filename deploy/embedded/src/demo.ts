/**
 * `npm run demo`: starts a fresh embedded platform, replays the bundled sample of agent traffic
 * through it as OTLP, and prints what it discovered, built, trained and routed. The teacher LLM
 * is a local stand-in that answers with the sample's recorded answers, so the demo needs no
 * API key and no network; the small model is a tiny random one, so nothing is downloaded.
 */
import { runDemo } from './demo/run.js';

await runDemo((line = '') => process.stdout.write(`${line}\n`)).catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
