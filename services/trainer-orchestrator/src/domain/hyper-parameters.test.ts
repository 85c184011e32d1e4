import { create } from '@bufbuild/protobuf';
import { TrainingConfigSchema } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { hyperParameters, trainingConfig } from './hyper-parameters.js';

describe('hyper-parameters', () => {
  it('maps a TrainingConfig to the trainer’s --config keys and back', () => {
    const config = create(TrainingConfigSchema, {
      loraRank: 8,
      loraAlpha: 16,
      targetModules: ['q_proj', 'v_proj'],
      maxSequenceLength: 1024,
      extra: { max_steps: 5 },
    });
    const parameters = hyperParameters(config);
    expect(parameters).toEqual({
      max_steps: 5,
      lora_r: 8,
      lora_alpha: 16,
      max_seq_length: 1024,
      target_modules: ['q_proj', 'v_proj'],
    });
    expect(trainingConfig(parameters)).toEqual(config);
  });

  it('leaves unset fields to the trainer', () => {
    expect(hyperParameters(create(TrainingConfigSchema))).toEqual({});
    expect(hyperParameters(undefined)).toEqual({});
  });
});
