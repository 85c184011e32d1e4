import type { otlpCommon } from '@understudy/contracts';

/** An OTLP attribute value as plain data: kvlists become objects, int64 becomes a number. */
export type Value = string | number | boolean | Uint8Array | null | Value[] | ValueObject;
export interface ValueObject {
  [key: string]: Value;
}

export function valueOf(any: otlpCommon.AnyValue | undefined): Value {
  const value = any?.value;
  switch (value?.case) {
    case undefined:
      return null;
    case 'stringValue':
    case 'boolValue':
    case 'doubleValue':
    case 'bytesValue':
      return value.value;
    case 'intValue':
      return Number(value.value);
    case 'arrayValue':
      return value.value.values.map(valueOf);
    case 'kvlistValue':
      return attributesOf(value.value.values);
  }
}

/** Attributes by key; a key given twice keeps its last value, as OTel SDKs do. */
export function attributesOf(keyValues: readonly otlpCommon.KeyValue[]): ValueObject {
  const attributes: ValueObject = {};
  for (const { key, value } of keyValues) attributes[key] = valueOf(value);
  return attributes;
}

export function isObject(value: Value | undefined): value is ValueObject {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array)
  );
}

export function text(value: Value | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A whole number, from an int attribute or a numeric string (OTLP/JSON sends int64 as text). */
export function integer(value: Value | undefined): number | undefined {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isInteger(number) ? number : undefined;
}

export function decimal(value: Value | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function texts(value: Value | undefined): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) return undefined;
  return value.filter((item) => typeof item === 'string');
}

/**
 * Semconv lets structured attributes (messages, tool definitions) arrive either as a JSON string
 * or as a structured OTLP value; both come out as plain data. Undefined when the JSON is broken.
 */
export function structured(value: Value | undefined): Value | undefined {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as Value;
  } catch {
    return undefined;
  }
}

/** Plain data as JSON text, bytes as base64 (JSON has no bytes). */
export function toJsonText(value: Value): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item instanceof Uint8Array ? Buffer.from(item).toString('base64') : item,
  );
}

type Defined<T> = { [K in keyof T]?: Exclude<T[K], undefined> };

/** Drops the absent fields, so optional proto fields stay unset rather than zero. */
export function defined<T extends Record<string, unknown>>(fields: T): Defined<T> {
  return Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined),
  ) as Defined<T>;
}
