import type { ValueObject } from '../attributes.js';

const escape = (prefix: string) => prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A list that a format flattened into attributes (`<prefix>0.role`, `<prefix>0.content`,
 * `<prefix>1.role`…, as OpenInference and OpenLLMetry write messages) as one object per index,
 * in index order, each keyed by what follows `<prefix>N.`. Missing indexes are skipped.
 */
export function indexed(attributes: ValueObject, prefix: string): ValueObject[] {
  const pattern = new RegExp(`^${escape(prefix)}(\\d+)\\.(.+)$`);
  const items = new Map<number, ValueObject>();
  for (const [key, value] of Object.entries(attributes)) {
    const match = pattern.exec(key);
    if (match === null) continue;
    const index = Number(match[1]);
    const item = items.get(index) ?? {};
    item[match[2] ?? ''] = value;
    items.set(index, item);
  }
  return [...items.entries()].sort(([a], [b]) => a - b).map(([, item]) => item);
}

/** Whether any attribute is an item of the flattened list `<prefix>N.…`. */
export function hasIndexed(attributes: ValueObject, prefix: string): boolean {
  const pattern = new RegExp(`^${escape(prefix)}\\d+\\.`);
  return Object.keys(attributes).some((key) => pattern.test(key));
}
