import { create } from '@bufbuild/protobuf';
import { otlpCommon } from '@understudy/contracts';
import type { Random } from './random.js';

/**
 * Mutations the fuzz targets share. Each returns what it did in words, so that a failing case
 * says which input broke it.
 */

const { AnyValueSchema, KeyValueSchema } = otlpCommon;

/** A byte-level mutation of an encoded body: what a broken exporter or proxy may send. */
export function mutateBytes(random: Random, input: Uint8Array): { bytes: Uint8Array; did: string } {
  const bytes = Uint8Array.from(input);
  const at = () => random.below(Math.max(1, bytes.length));
  switch (random.below(9)) {
    case 0: {
      const flips = random.size(16);
      for (let i = 0; i < flips && bytes.length > 0; i++) {
        const position = at();
        bytes[position] = (bytes[position] ?? 0) ^ (1 << random.below(8));
      }
      return { bytes, did: `${flips} bit flips` };
    }
    case 1: {
      const end = at();
      return { bytes: bytes.subarray(0, end), did: `truncated to ${end} bytes` };
    }
    case 2: {
      const start = at();
      bytes.set(random.bytes(Math.min(random.size(64), bytes.length - start)), start);
      return { bytes, did: `random bytes over ${start}` };
    }
    case 3: {
      const start = at();
      const inserted = random.bytes(random.size(64));
      return {
        bytes: concat(bytes.subarray(0, start), inserted, bytes.subarray(start)),
        did: `${inserted.length} random bytes inserted at ${start}`,
      };
    }
    case 4: {
      const start = at();
      const end = Math.min(bytes.length, start + random.size(256));
      return {
        bytes: concat(bytes.subarray(0, start), bytes.subarray(end)),
        did: `bytes ${start}..${end} deleted`,
      };
    }
    case 5: {
      const start = at();
      const end = Math.min(bytes.length, start + random.size(256));
      const to = at();
      return {
        bytes: concat(bytes.subarray(0, to), bytes.subarray(start, end), bytes.subarray(to)),
        did: `bytes ${start}..${end} copied to ${to}`,
      };
    }
    case 6: {
      // Read as a tag, the byte now says another wire type (groups, fixed widths, invalid 6/7).
      const position = at();
      if (bytes.length > 0) bytes[position] = ((bytes[position] ?? 0) & ~7) | random.below(8);
      return { bytes, did: `wire type changed at ${position}` };
    }
    case 7: {
      // A length prefix that claims far more than there is.
      const position = at();
      const huge = [0xff, 0xff, 0xff, 0xff, random.pick([0x07, 0x0f, 0x7f])];
      return {
        bytes: concat(bytes.subarray(0, position), Uint8Array.from(huge), bytes.subarray(position)),
        did: `huge varint inserted at ${position}`,
      };
    }
    default: {
      const length = random.size(4096) - 1;
      return { bytes: random.bytes(length), did: `${length} random bytes` };
    }
  }
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

/** Byte sequences that are not UTF-8: stray continuations, overlongs, surrogates, cut-offs. */
export function invalidUtf8(random: Random): Uint8Array {
  return Uint8Array.from(
    random.pick([
      [0xff],
      [0xfe, 0xff],
      [0x80],
      [0xc0, 0x80],
      [0xe0, 0x80, 0x80],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xe2, 0x82],
      [0xf0, 0x9f, 0x98],
    ]),
  );
}

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Any JSON value, nested at most `depth` deep. */
function randomJson(random: Random, depth = 3): Json {
  switch (random.below(depth > 0 ? 9 : 6)) {
    case 0:
      return random.text(random.size(64), true);
    case 1:
      return random.pick([0, -1, 1.5, 2 ** 53 + 1, -(2 ** 63), 1e308, -0, Number.MIN_VALUE]);
    case 2:
      return random.chance(0.5);
    case 3:
      return null;
    case 4:
      return '';
    case 5:
      return random.pick(['null', '[]', '{}', '{"role":', 'NaN', 'true', '"']);
    case 6:
      return Array.from({ length: random.size(5) }, () => randomJson(random, depth - 1));
    case 7:
      return nestedJson(random.size(200));
    default:
      return Object.fromEntries(
        Array.from({ length: random.size(5) }, () => [
          random.pick(['role', 'content', 'type', 'parts', 'text', random.text(8)]),
          randomJson(random, depth - 1),
        ]),
      );
  }
}

/** `[{"a":[{"a":…}]}]`, `depth` deep. */
function nestedJson(depth: number): Json {
  let value: Json = 'x';
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

/** The text of {@link nestedJson}, built directly: JSON.stringify recurses and cannot go deep. */
export function nestedJsonText(depth: number): string {
  const pairs = Math.ceil(depth / 2);
  return `${'[{"a":'.repeat(pairs)}"x"${'}]'.repeat(pairs)}`;
}

/**
 * Where a JSON document can be changed: the paths of its values, the root first, down to a
 * depth that a document nested deeper (by an earlier mutation) does not make costly.
 */
function jsonPaths(document: Json, maxDepth = 64): (string | number)[][] {
  const paths: (string | number)[][] = [];
  const stack: { value: Json; path: (string | number)[] }[] = [{ value: document, path: [] }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { value, path } = next;
    paths.push(path);
    if (path.length >= maxDepth || typeof value !== 'object' || value === null) continue;
    const entries: [string | number, Json][] = Array.isArray(value)
      ? value.map((item, index) => [index, item])
      : Object.entries(value);
    for (const [step, item] of entries) stack.push({ value: item, path: [...path, step] });
  }
  return paths;
}

/**
 * A structural mutation of a JSON document, in place where it can be: a value of another type,
 * a deleted or renamed key, a deep nest, a huge string. Returns the new document.
 */
export function mutateJson(
  random: Random,
  document: Json,
  keys: readonly string[],
  hugeBytes: number,
): { document: Json; did: string } {
  const paths = jsonPaths(document);
  const path = random.pick(paths);
  const name = path.join('.') || '(root)';
  if (path.length === 0) return { document: randomJson(random), did: 'document replaced' };
  const parent = path.slice(0, -1).reduce<Json>((node, step) => index(node, step), document);
  const last = path[path.length - 1] ?? '';
  const replace = (value: Json): void => {
    if (Array.isArray(parent) && typeof last === 'number') parent[last] = value;
    else if (isJsonObject(parent)) parent[String(last)] = value;
  };
  switch (random.below(6)) {
    case 0:
      replace(randomJson(random));
      return { document, did: `${name} replaced by another value` };
    case 1:
      if (Array.isArray(parent) && typeof last === 'number') parent.splice(last, 1);
      else if (isJsonObject(parent)) Reflect.deleteProperty(parent, String(last));
      return { document, did: `${name} deleted` };
    case 2: {
      if (!isJsonObject(parent)) break;
      const key = random.pick(keys);
      parent[key] = parent[String(last)] ?? null;
      return { document, did: `${name} also under ${key}` };
    }
    case 3:
      replace(nestedJson(random.size(1_000)));
      return { document, did: `${name} nested deep` };
    case 4:
      replace('x'.repeat(random.size(hugeBytes)));
      return { document, did: `${name} made huge` };
    default:
      break;
  }
  replace(random.pick([{}, [], '', 0, null, true]));
  return { document, did: `${name} emptied` };
}

function isJsonObject(value: Json): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function index(node: Json, step: string | number): Json {
  if (Array.isArray(node) && typeof step === 'number') return node[step] ?? null;
  if (isJsonObject(node)) return node[String(step)] ?? null;
  return null;
}

/** An OTLP value of a random kind, nested at most `depth` deep. */
export function randomAnyValue(random: Random, depth = 2): otlpCommon.AnyValue {
  const kinds = depth > 0 ? 8 : 6;
  switch (random.below(kinds)) {
    case 0:
      return create(AnyValueSchema, {
        value: { case: 'stringValue', value: random.text(random.size(64)) },
      });
    case 1:
      return create(AnyValueSchema, {
        value: { case: 'intValue', value: random.pick([0n, -1n, 2n ** 63n - 1n, -(2n ** 63n)]) },
      });
    case 2:
      return create(AnyValueSchema, {
        value: { case: 'doubleValue', value: random.pick([NaN, Infinity, -Infinity, -0, 1.5]) },
      });
    case 3:
      return create(AnyValueSchema, { value: { case: 'boolValue', value: random.chance(0.5) } });
    case 4:
      return create(AnyValueSchema, {
        value: { case: 'bytesValue', value: random.bytes(random.size(32) - 1) },
      });
    case 5:
      return create(AnyValueSchema);
    case 6:
      return create(AnyValueSchema, {
        value: {
          case: 'arrayValue',
          value: {
            values: Array.from({ length: random.size(4) }, () => randomAnyValue(random, depth - 1)),
          },
        },
      });
    default:
      return create(AnyValueSchema, {
        value: {
          case: 'kvlistValue',
          value: {
            values: Array.from({ length: random.size(4) }, () =>
              create(KeyValueSchema, {
                key: random.pick(['role', 'content', 'type', random.text(6)]),
                value: randomAnyValue(random, depth - 1),
              }),
            ),
          },
        },
      });
  }
}

/** Arrays in kvlists in arrays…, `depth` levels. */
export function nestedAnyValue(random: Random, depth: number): otlpCommon.AnyValue {
  let value = create(AnyValueSchema, { value: { case: 'stringValue', value: 'x' } });
  for (let i = 0; i < depth; i++) {
    value = random.chance(0.5)
      ? create(AnyValueSchema, { value: { case: 'arrayValue', value: { values: [value] } } })
      : create(AnyValueSchema, {
          value: {
            case: 'kvlistValue',
            value: { values: [create(KeyValueSchema, { key: 'content', value })] },
          },
        });
  }
  return value;
}

/** What an attribute mutation may draw on: keys of the formats, and how large "huge" is. */
export interface AttributeLimits {
  readonly keys: readonly string[];
  readonly hugeBytes: number;
  readonly manyAttributes: number;
  /** Deepest nesting tried; past protobuf-es' recursion limit (100) the export is refused. */
  readonly maxDepth: number;
}

/**
 * Mutates one attribute list in place: a value of the wrong type, a string holding broken or
 * deep JSON, a huge value, thousands of attributes, a deep nest, a key of another format.
 */
export function mutateAttributes(
  random: Random,
  attributes: otlpCommon.KeyValue[],
  limits: AttributeLimits,
): string {
  const target = attributes.length > 0 ? random.pick(attributes) : undefined;
  const key = target?.key ?? random.pick(limits.keys);
  const set = (value: otlpCommon.AnyValue): void => {
    if (target === undefined) attributes.push(create(KeyValueSchema, { key, value }));
    else target.value = value;
  };
  const string = (value: string) =>
    create(AnyValueSchema, { value: { case: 'stringValue', value } });
  switch (random.below(9)) {
    case 0:
      set(randomAnyValue(random));
      return `${key} given a value of another type`;
    case 1: {
      const current = target?.value?.value;
      if (current?.case !== 'stringValue') break;
      const cut = random.below(current.value.length + 1);
      set(string(current.value.slice(0, cut)));
      return `${key} cut to ${cut} characters`;
    }
    case 2: {
      const current = target?.value?.value;
      if (current?.case !== 'stringValue') break;
      let document: Json;
      try {
        document = JSON.parse(current.value) as Json;
      } catch {
        break;
      }
      const mutated = mutateJson(random, document, limits.keys, limits.hugeBytes);
      let text: string;
      try {
        text = JSON.stringify(mutated.document);
      } catch {
        break; // Nested past what JSON.stringify can write (an earlier mutation did that).
      }
      set(string(text));
      return `${key} JSON: ${mutated.did}`;
    }
    case 3: {
      const bytes = random.size(limits.hugeBytes);
      set(string(random.text(bytes)));
      return `${key} given ${bytes} characters`;
    }
    case 4: {
      const count = random.size(limits.manyAttributes);
      for (let i = 0; i < count; i++) {
        attributes.push(
          create(KeyValueSchema, {
            key: random.chance(0.5) ? random.pick(limits.keys) : `${key}.${i}`,
            value: randomAnyValue(random, 1),
          }),
        );
      }
      return `${count} attributes added`;
    }
    case 5: {
      const depth = random.size(limits.maxDepth);
      set(nestedAnyValue(random, depth));
      return `${key} nested ${depth} deep`;
    }
    case 6: {
      const depth = random.size(20_000);
      set(string(nestedJsonText(depth)));
      return `${key} given JSON nested ${depth} deep`;
    }
    case 7: {
      const other = random.pick(limits.keys);
      attributes.push(create(KeyValueSchema, { key: other, value: randomAnyValue(random) }));
      return `${other} added`;
    }
    default:
      break;
  }
  const other = random.pick(limits.keys);
  attributes.push(
    create(KeyValueSchema, { key: other, value: string(JSON.stringify(randomJson(random))) }),
  );
  return `${other} given random JSON`;
}
