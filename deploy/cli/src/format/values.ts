import type { DescEnum } from '@bufbuild/protobuf';
import { timestampDate, type Duration, type Timestamp } from '@bufbuild/protobuf/wkt';

/** Shown for an unset value, so that a column never looks shifted. */
export const none = '-';

/** `canary` for MODEL_STAGE_CANARY: the value without its enum's prefix, lower-case. */
export function enumLabel(schema: DescEnum, value: number): string {
  if (value === 0) return none;
  return schema.value[value]?.localName.toLowerCase() ?? String(value);
}

/** ISO 8601 in UTC to the second; people compare these across zones and logs. */
export function isoTime(timestamp: Timestamp | undefined): string {
  if (timestamp === undefined) return none;
  return timestampDate(timestamp)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z');
}

export function milliseconds(value: Duration): number {
  return Number(value.seconds) * 1000 + value.nanos / 1e6;
}

/** `1.25s`, `250ms`. */
export function duration(value: Duration | undefined): string {
  if (value === undefined) return none;
  const ms = milliseconds(value);
  return ms < 1000 ? `${String(Math.round(ms))}ms` : `${String(round(ms / 1000, 3))}s`;
}

/** At most `digits` decimals, without trailing zeros. */
export function round(value: number, digits = 4): number {
  return Number(value.toFixed(digits));
}

export function percent(value: number): string {
  return `${String(value)}%`;
}

/** `exact_match=0.91 json_valid=1`, by name. */
export function metrics(values: Readonly<Record<string, number>>): string {
  const entries = Object.entries(values).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0
    ? none
    : entries.map(([k, v]) => `${k}=${String(round(v))}`).join(' ');
}

/** `team=search tier=gold`, by key. */
export function labels(values: Readonly<Record<string, string>>): string {
  const entries = Object.entries(values).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? none : entries.map(([k, v]) => `${k}=${v}`).join(' ');
}

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(value: bigint): string {
  if (value === 0n) return none;
  let size = Number(value);
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit++;
  }
  return `${String(unit === 0 ? size : round(size, 1))} ${units[unit] ?? ''}`;
}

/** `1.2M`, `350k` for parameter counts. */
export function count(value: bigint): string {
  if (value === 0n) return none;
  const n = Number(value);
  if (n >= 1e9) return `${String(round(n / 1e9, 1))}B`;
  if (n >= 1e6) return `${String(round(n / 1e6, 1))}M`;
  if (n >= 1e3) return `${String(round(n / 1e3, 1))}k`;
  return String(n);
}

export function money(amount: number, currency: string): string {
  return `${amount.toFixed(2)}${currency === '' ? '' : ` ${currency}`}`;
}

/** `$1,234.50`, `€80.00`: in the currency's own notation, where its ISO 4217 code is given. */
export function price(amount: number, currency: string): string {
  return /^[A-Z]{3}$/.test(currency)
    ? new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(amount)
    : money(amount, currency);
}

/** A share in [0, 1] as a percentage: `37.5%`. */
export function share(value: number): string {
  return percent(round(value * 100, 1));
}

export function list(values: readonly string[]): string {
  return values.length === 0 ? none : values.join(', ');
}
