import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { Args, type Command, type Group, type OptionSpecs } from './command.js';
import { UsageError } from './failure.js';
import { globalOptions, pagingOptions } from './globals.js';

function config(specs: OptionSpecs): ParseArgsOptionsConfig {
  return Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [
      name,
      {
        type: spec.type,
        ...(spec.multiple !== undefined && { multiple: spec.multiple }),
        ...(spec.short !== undefined && { short: spec.short }),
      },
    ]),
  );
}

export interface Located {
  /** The words naming the command or group, e.g. `['registry', 'models', 'list']`. */
  readonly path: readonly string[];
  readonly node: Command | Group;
  /** A word that names nothing in `node`, a group. */
  readonly unknown?: string;
}

/**
 * Walks the command tree along the leading words. Global options may come first, so they are
 * parsed here too (else `--output json` would read `json` as a command); a command's own
 * options come after its name.
 */
export function locate(root: Group, argv: readonly string[]): Located {
  const { positionals } = parseArgs({
    args: [...argv],
    options: config(globalOptions),
    strict: false,
    allowPositionals: true,
  });
  let node: Command | Group = root;
  const path: string[] = [];
  for (const word of positionals) {
    if (node.kind === 'command') break;
    const next: Command | Group | undefined = Object.hasOwn(node.commands, word)
      ? node.commands[word]
      : undefined;
    if (next === undefined) return { path, node, unknown: word };
    node = next;
    path.push(word);
  }
  return { path, node };
}

export interface Parsed {
  /** Global and command options together, by long name. */
  readonly options: Args;
  /** What follows the command's name. */
  readonly positionals: readonly string[];
}

export function parse(located: Located, argv: readonly string[]): Parsed {
  const { node, path } = located;
  const specs: OptionSpecs =
    node.kind === 'group'
      ? globalOptions
      : { ...globalOptions, ...node.options, ...(node.paged ? pagingOptions : {}) };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: config(specs),
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    // node:util names the offending option and what was wrong with it.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const words = parsed.positionals.slice(0, path.length);
  if (words.join(' ') !== path.join(' ')) {
    throw new UsageError(`options of "${path.join(' ')}" go after its name`);
  }
  return { options: new Args(parsed.values), positionals: parsed.positionals.slice(path.length) };
}

/** The command's arguments: its options, and its positionals by name, all there and no more. */
export function bind(command: Command, parsed: Parsed): Args {
  const specs = command.positionals ?? [];
  const extra = parsed.positionals[specs.length];
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  const named: Record<string, string> = {};
  specs.forEach((spec, i) => {
    const value = parsed.positionals[i];
    if (value !== undefined) named[spec.name] = value;
    else if (spec.optional !== true) throw new UsageError(`<${spec.name}> is required`);
  });
  for (const [name, spec] of Object.entries(command.options ?? {})) {
    if (spec.required === true && parsed.options.string(name) === undefined) {
      throw new UsageError(`--${name} is required`);
    }
  }
  return parsed.options.withPositionals(named);
}
