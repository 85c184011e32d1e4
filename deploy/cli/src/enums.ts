import type { GenEnum } from '@bufbuild/protobuf/codegenv2';
import { UsageError } from './failure.js';

/** How people type a value: `canary` for MODEL_STAGE_CANARY, `model-version` or `model_version`. */
function spelled(localName: string): string {
  return localName.toLowerCase();
}

/**
 * The number of the value named `text`, among `allowed` (every value but UNSPECIFIED by default);
 * anything else is a usage error listing what is accepted.
 */
export function enumValue<E extends number>(
  schema: GenEnum<E>,
  option: string,
  text: string,
  allowed: readonly E[] = schema.values.map((v) => v.number as E).filter((n) => n !== 0),
): E {
  const wanted = text.trim().toLowerCase().replaceAll('-', '_');
  const choices = schema.values.filter((v) => allowed.includes(v.number as E));
  const found = choices.find((v) => spelled(v.localName) === wanted);
  if (found === undefined) {
    const names = choices.map((v) => spelled(v.localName));
    throw new UsageError(`--${option} must be one of ${names.join(', ')}, not "${text}"`);
  }
  return found.number as E;
}
