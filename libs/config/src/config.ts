import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { z } from 'zod';

/** One environment variable: its name, how to parse it, and whether its value is secret. */
export interface Setting<T> {
  readonly kind: 'setting';
  readonly variable: string;
  readonly schema: z.ZodType<T>;
  readonly secret: boolean;
}

export interface ConfigShape {
  readonly [key: string]: Setting<unknown> | ConfigShape;
}

/** The typed, frozen object a shape describes. */
export type ConfigOf<S extends ConfigShape> = {
  readonly [K in keyof S]: S[K] extends Setting<infer T>
    ? T
    : S[K] extends ConfigShape
      ? ConfigOf<S[K]>
      : never;
};

export type Environment = Readonly<Record<string, string | undefined>>;

/** Declares a setting read from `variable`. An empty string counts as unset. */
export function setting<T>(
  variable: string,
  schema: z.ZodType<T>,
  options: { secret?: boolean } = {},
): Setting<T> {
  return { kind: 'setting', variable, schema, secret: options.secret ?? false };
}

function isSetting(value: Setting<unknown> | ConfigShape): value is Setting<unknown> {
  return 'kind' in value && value['kind'] === 'setting';
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Parses every setting of `shape` from `env` at once, so a misconfigured deployment learns about
 * all of its mistakes in one boot instead of one per restart. The error names each variable and
 * never echoes a secret's value.
 */
export function loadConfig<S extends ConfigShape>(
  shape: S,
  env: Environment = process.env,
): ConfigOf<S> {
  const [config] = loadConfigs([shape], env);
  return config;
}

/** {@link loadConfig} for several shapes (e.g. shared and service settings), one error for all. */
export function loadConfigs<const Shapes extends readonly ConfigShape[]>(
  shapes: Shapes,
  env: Environment = process.env,
): { readonly [K in keyof Shapes]: ConfigOf<Shapes[K]> } {
  const problems: string[] = [];
  const build = (node: ConfigShape): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(node)) {
      if (!isSetting(entry)) {
        out[key] = build(entry);
        continue;
      }
      const raw = env[entry.variable];
      const result = entry.schema.safeParse(raw === '' ? undefined : raw);
      if (result.success) {
        out[key] = result.data;
      } else {
        const reason = result.error.issues.map((issue) => issue.message).join('; ');
        const shown =
          raw === undefined || raw === '' ? 'missing' : entry.secret ? 'invalid' : `"${raw}"`;
        problems.push(`${entry.variable} (${shown}): ${reason}`);
      }
    }
    return out;
  };
  const configs = shapes.map(build);
  if (problems.length > 0) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `invalid configuration:\n  ${[...new Set(problems)].join('\n  ')}`,
      { details: { variables: [...new Set(problems.map((p) => p.split(' ')[0]))] } },
    );
  }
  // Array.map loses the tuple's per-position types; the shapes map one to one.
  return deepFreeze(configs) as unknown as { readonly [K in keyof Shapes]: ConfigOf<Shapes[K]> };
}

/** The effective configuration with secrets masked, for a boot log line. */
export function describeConfig<S extends ConfigShape>(
  shape: S,
  config: ConfigOf<S>,
): Record<string, unknown> {
  const describe = (node: ConfigShape, values: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(node).map(([key, entry]) => {
        const value = values[key];
        if (!isSetting(entry)) return [key, describe(entry, value as Record<string, unknown>)];
        return [key, entry.secret && value !== undefined ? '***' : value];
      }),
    );
  return describe(shape, config);
}
