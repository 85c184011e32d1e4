/** Where a run of the CLI writes, and what it reads from its environment; tests pass their own. */
export interface Io {
  readonly stdout: Writer;
  readonly stderr: Writer;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Width of the terminal on stdout; unset when stdout is a pipe or a file. */
  readonly columns?: number | undefined;
}

export interface Writer {
  write(text: string): unknown;
}
