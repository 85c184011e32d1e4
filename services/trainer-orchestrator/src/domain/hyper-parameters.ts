import { create, type JsonObject, type JsonValue } from '@bufbuild/protobuf';
import { TrainingConfigSchema, type TrainingConfig } from '@understudy/contracts';

type HyperParameters = Record<string, JsonValue>;

/** Proto field → the trainer's `--config` key; zero and empty fields take the trainer's defaults. */
const numeric = [
  ['loraRank', 'lora_r'],
  ['loraAlpha', 'lora_alpha'],
  ['loraDropout', 'lora_dropout'],
  ['learningRate', 'learning_rate'],
  ['epochs', 'epochs'],
  ['batchSize', 'batch_size'],
  ['gradientAccumulationSteps', 'gradient_accumulation_steps'],
  ['maxSequenceLength', 'max_seq_length'],
  ['seed', 'seed'],
] as const;

/** The trainer's hyper-parameters for a TrainingConfig: `extra` first, named fields over it. */
export function hyperParameters(config: TrainingConfig | undefined): HyperParameters {
  if (config === undefined) return {};
  const result: HyperParameters = { ...(config.extra ?? {}) };
  for (const [field, key] of numeric) {
    if (config[field] !== 0) result[key] = config[field];
  }
  if (config.targetModules.length > 0) result['target_modules'] = [...config.targetModules];
  return result;
}

/** The TrainingConfig that hyperParameters() came from: unknown keys return to `extra`. */
export function trainingConfig(parameters: Readonly<Record<string, unknown>>): TrainingConfig {
  const config = create(TrainingConfigSchema);
  const extra: JsonObject = {};
  const known = new Map<string, (typeof numeric)[number][0]>(numeric.map(([f, k]) => [k, f]));
  for (const [key, value] of Object.entries(parameters)) {
    const field = known.get(key);
    if (field !== undefined && typeof value === 'number') {
      config[field] = value;
    } else if (key === 'target_modules' && Array.isArray(value)) {
      config.targetModules = value.filter((m): m is string => typeof m === 'string');
    } else {
      extra[key] = value as JsonValue;
    }
  }
  if (Object.keys(extra).length > 0) config.extra = extra;
  return config;
}
