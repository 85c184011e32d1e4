import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * What the fake trainer's success line reports beside the adapter and metrics (files, footprint,
 * licence, evaluation), as the real trainer prints it.
 */
const fakeReport = {
  files: [
    { path: 'adapter_config.json', size_bytes: 640, sha256: 'a'.repeat(64) },
    { path: 'adapter_model.safetensors', size_bytes: 98_304, sha256: 'b'.repeat(64) },
  ],
  footprint: {
    base_parameter_count: 1_000_000,
    adapter_parameter_count: 24_576,
    serving_memory_bytes: 4_098_304,
    dtype: 'float32',
  },
  license: 'apache-2.0',
  evaluation: {
    evaluator_version: 'greedy-teacher-match@1',
    split: 'eval',
    example_count: 4,
    metrics: { exact_match: 0.75, token_f1: 0.9 },
  },
};

/**
 * Writes a stand-in for the trainer venv's python: a real executable that records its
 * arguments and prints the trainer contract's stdout lines. `FAKE_TRAINER_MODE` picks the
 * script: succeed, fail (reports failure), crash (exits 3 silently), hang (until killed); a
 * `--base-model` of `fake-<mode>` picks it too.
 */
export async function writeFakeTrainer(): Promise<{ python: string; argsFile: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-trainer-'));
  const python = join(dir, 'python');
  const argsFile = join(dir, 'args');
  await writeFile(
    python,
    `#!/bin/sh
printf '%s\\n' "$@" > '${argsFile}'
run_id=''
output=''
mode="\${FAKE_TRAINER_MODE:-succeed}"
while [ $# -gt 0 ]; do
  case "$1" in
    --run-id) run_id="$2"; shift ;;
    --output) output="$2"; shift ;;
    --base-model) case "$2" in fake-*) mode="\${2#fake-}" ;; esac; shift ;;
  esac
  shift
done
echo "loading base model" >&2
case "$mode" in
  succeed)
    echo 'not json, ignored'
    echo '{"event":"progress","step":1,"total_steps":2,"loss":2.5,"epoch":0.5}'
    sleep 0.2
    echo '{"event":"progress","step":2,"total_steps":2,"loss":1.5,"epoch":1.0}'
    echo '{"event":"succeeded","adapter":"'"\${output}"'adapter/","metrics":{"train_loss":1.5,"run":"'"$run_id"'"},${JSON.stringify(fakeReport).slice(1)}'
    ;;
  fail)
    echo '{"event":"failed","reason":"dataset has no rows","retryable":false}'
    exit 1 ;;
  crash)
    exit 3 ;;
  hang)
    echo '{"event":"progress","step":1,"total_steps":100,"loss":3.0,"epoch":0.01}'
    sleep 60 & wait ;;
esac
`,
  );
  await chmod(python, 0o755);
  return { python, argsFile };
}
