import { z } from 'zod';

/** Parsers for the value forms environment variables take across the services. */
export const port = () => z.coerce.number().int().min(0).max(65535);
export const positiveInt = () => z.coerce.number().int().positive();
export const nonNegativeInt = () => z.coerce.number().int().nonnegative();
export const boolean = () =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .transform((v) => ['true', '1', 'yes'].includes(v));
/** Comma-separated, trimmed, empties dropped: `a, b,,c` → ['a', 'b', 'c']. */
export const list = () =>
  z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    )
    .pipe(z.array(z.string()).min(1, 'needs at least one entry'));
export const url = () => z.url();
export const text = () => z.string().min(1);
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values);
/** A JSON object, e.g. `{"epochs": 2}`; malformed JSON is reported as such. */
export const jsonObject = () =>
  z
    .string()
    .transform((v, context) => {
      try {
        return JSON.parse(v) as unknown;
      } catch {
        context.addIssue({ code: 'custom', message: 'is not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(z.record(z.string(), z.json()));
