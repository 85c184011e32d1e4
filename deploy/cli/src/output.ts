import { toJson, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import type { Io } from './io.js';

export const formats = ['table', 'json'] as const;
export type Format = (typeof formats)[number];

/** What views may know of the terminal they draw for. */
export interface Layout {
  readonly width?: number | undefined;
}

export type View<T> = (value: T, layout: Layout) => string;

/**
 * Where a command's answer goes. Each command prints one document: for `json`, its response
 * message in proto JSON (field names and enums as the proto defines them, for scripts), or a
 * plain document of its own where it is made for charts; for `table`, its view for people.
 * Notes are for people only and go to stderr.
 */
export class Output {
  readonly format: Format;
  readonly #io: Io;

  constructor(format: Format, io: Io) {
    this.format = format;
    this.#io = io;
  }

  print<D extends DescMessage>(
    schema: D,
    message: MessageShape<D>,
    view: View<MessageShape<D>>,
  ): void {
    this.printDocument(message, (m) => toJson(schema, m), view);
  }

  /** As print, with `document(value)` for JSON instead of proto JSON. */
  printDocument<T>(value: T, document: (value: T) => unknown, view: View<T>): void {
    this.#io.stdout.write(
      this.format === 'json'
        ? JSON.stringify(document(value), null, 2) + '\n'
        : view(value, { width: this.#io.columns }),
    );
  }

  note(text: string): void {
    if (this.format === 'table') this.#io.stderr.write(`${text}\n`);
  }
}
