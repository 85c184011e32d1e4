/** One column of a table: how to read its cell from a row, and how to lay it out. */
export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string;
  /** Numbers line up on the right. */
  readonly align?: 'right';
  /**
   * Longest cell kept whole; longer ones end in an ellipsis. Columns without one (identifiers)
   * are never cut, so that what is printed can be copied into the next command.
   */
  readonly max?: number;
}

export interface TableOptions {
  /** Width of the terminal; cuttable columns shrink (not below their header) to fit it. */
  readonly width?: number | undefined;
}

const gap = '  ';
const ellipsis = '…';

/** Cells are single-line: a label with a newline would break every column after it. */
function cell(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

const graphemes = new Intl.Segmenter();

/** What the eye counts as characters: an accented letter or a flag is one. */
function characters(text: string): string[] {
  return Array.from(graphemes.segment(text), (s) => s.segment);
}

export function width(text: string): number {
  return characters(text).length;
}

export function truncate(text: string, max: number): string {
  const chars = characters(text);
  if (chars.length <= max) return text;
  return max <= 1 ? ellipsis.slice(0, max) : chars.slice(0, max - 1).join('') + ellipsis;
}

function pad(text: string, size: number, align: 'right' | undefined): string {
  const fill = ' '.repeat(Math.max(0, size - width(text)));
  return align === 'right' ? fill + text : text + fill;
}

/** Rows under an upper-case header, columns aligned, two spaces apart. */
export function table<T>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  options: TableOptions = {},
): string {
  const cells = rows.map((row) => columns.map((column) => cell(column.value(row))));
  const sizes = columns.map((column, i) => {
    const widest = Math.max(width(column.header), ...cells.map((r) => width(r[i] ?? '')));
    return column.max === undefined ? widest : Math.min(widest, Math.max(column.max, 1));
  });
  fit(sizes, columns, options.width);
  const line = (values: readonly string[]): string =>
    columns
      .map((column, i) =>
        pad(truncate(values[i] ?? '', sizes[i] ?? 0), sizes[i] ?? 0, column.align),
      )
      .join(gap)
      .trimEnd();
  return [line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
}

/** Narrows the widest cuttable column, one character at a time, until the table fits. */
function fit(
  sizes: number[],
  columns: readonly Pick<Column<never>, 'header' | 'max'>[],
  limit: number | undefined,
): void {
  if (limit === undefined) return;
  const floor = (i: number): number => width(columns[i]?.header ?? '');
  const total = (): number =>
    sizes.reduce((sum, size) => sum + size, 0) + gap.length * (sizes.length - 1);
  while (total() > limit) {
    let widest = -1;
    sizes.forEach((size, i) => {
      if (columns[i]?.max === undefined || size <= floor(i)) return;
      if (widest === -1 || size > (sizes[widest] ?? 0)) widest = i;
    });
    if (widest === -1) return;
    sizes[widest] = (sizes[widest] ?? 0) - 1;
  }
}

/** Label and value pairs, labels aligned; pairs without a value are left out. */
export function sheet(entries: readonly (readonly [string, string | undefined])[]): string {
  const present = entries.flatMap(([label, value]) =>
    value === undefined ? [] : [[label, value === '' ? '-' : value] as const],
  );
  const size = Math.max(0, ...present.map(([label]) => width(label) + 1));
  return (
    present.map(([label, value]) => `${pad(`${label}:`, size, undefined)}  ${value}`).join('\n') +
    '\n'
  );
}
