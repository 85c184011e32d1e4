import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

/** The Python trainer (services/trainer): trains adapters, and serves them over OpenAI's API. */
const trainerDir = fileURLToPath(new URL('../../../services/trainer/', import.meta.url));

export interface TrainerPython {
  /** The venv's interpreter. */
  readonly python: string;
  /** Where `understudy_trainer` is importable from: the trainer is not installed in its venv. */
  readonly pythonPath: string;
}

/** The trainer's cached venv, built from its lock on first use (minutes, once per machine). */
export async function trainerPython(): Promise<TrainerPython> {
  const { stdout } = await promisify(execFile)('bash', [
    join(trainerDir, 'scripts/ensure-venv.sh'),
  ]);
  return { python: join(stdout.trim(), 'bin/python'), pythonPath: join(trainerDir, 'src') };
}

/**
 * A tiny sentiment dataset in the dataset-builder's manifest format, its splits beside it as
 * `file://` URIs: enough for the trainer to train a tiny model for real. Returns the manifest URI.
 */
export async function writeTinyDataset(dir: string, rowCount = 8): Promise<string> {
  const rows = Array.from({ length: rowCount }, (_, index) => ({
    messages: [
      { role: 'system', content: 'Classify the sentiment.' },
      { role: 'user', content: `I ${index % 2 === 0 ? 'hate' : 'love'} item ${String(index)}` },
      { role: 'assistant', content: index % 2 === 0 ? 'negative' : 'positive' },
    ],
  }));
  const split = async (name: string, part: typeof rows) => {
    const body = part.map((row) => `${JSON.stringify(row)}\n`).join('');
    const path = join(dir, `${name}.jsonl`);
    await writeFile(path, body);
    const sha256 = createHash('sha256').update(body).digest('hex');
    return { uri: pathToFileURL(path).href, rows: part.length, sha256 };
  };
  const cut = Math.max(1, Math.floor(rowCount * 0.75));
  const manifest = join(dir, 'manifest.json');
  await writeFile(
    manifest,
    JSON.stringify({
      format: 'openai-chat-jsonl',
      dataset_id: 'd-1',
      task_id: 'task-1',
      tenant_id: 'acme',
      splits: {
        train: await split('train', rows.slice(0, cut)),
        eval: await split('eval', rows.slice(cut)),
      },
      created_at: '2026-11-02T10:00:00Z',
      source_window: { start: '2026-11-01T00:00:00Z', end: '2026-11-02T00:00:00Z' },
    }),
  );
  return pathToFileURL(manifest).href;
}
