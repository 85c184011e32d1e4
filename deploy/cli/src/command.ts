import type { ModelRegistryService } from '@understudy/contracts';
import type { Client } from '@understudy/grpc';
import { UsageError } from './failure.js';
import type { Output } from './output.js';
import type { Paging } from './paging.js';

export type RegistryClient = Client<typeof ModelRegistryService>;

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** May be given more than once; comma-separated values count as several. */
  readonly multiple?: boolean;
  readonly short?: string;
  /** Shown in the usage line, and checked before the command runs. */
  readonly required?: boolean;
  /** Placeholder of the value in help, e.g. `N`. */
  readonly value?: string;
  readonly description: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface PositionalSpec {
  readonly name: string;
  readonly optional?: boolean;
}

/** What a command works with: the registry, the tenant it acts for, where its answer goes. */
export interface Context {
  readonly registry: RegistryClient;
  /** Empty when not given: the registry then takes the caller's own tenant. */
  readonly tenantId: string;
  readonly paging: Paging;
  readonly output: Output;
}

/** A leaf of the command tree: parses nothing itself, gets its arguments checked against its specs. */
export interface Command {
  readonly kind: 'command';
  readonly summary: string;
  /** Paragraph under the usage line in help. */
  readonly description?: string;
  readonly positionals?: readonly PositionalSpec[];
  readonly options?: OptionSpecs;
  /** Whole command lines, shown in help. */
  readonly examples: readonly string[];
  /** Whether it lists with page tokens, so that help shows the paging options. */
  readonly paged?: boolean;
  readonly run: (context: Context, args: Args) => Promise<void>;
}

/** A node of the command tree: `understudy registry models …`. */
export interface Group {
  readonly kind: 'group';
  readonly summary: string;
  readonly commands: Readonly<Record<string, Command | Group>>;
}

export function command(spec: Omit<Command, 'kind'>): Command {
  return { kind: 'command', ...spec };
}

export function group(summary: string, commands: Group['commands']): Group {
  return { kind: 'group', summary, commands };
}

type Value = string | boolean | (string | boolean)[] | undefined;

/** A command's parsed options and positionals, read with the checks each kind of value needs. */
export class Args {
  readonly #values: Readonly<Record<string, Value>>;
  readonly #positionals: Readonly<Record<string, string>>;

  /** `positionals` by the names their command's spec gives them. */
  constructor(
    values: Readonly<Record<string, Value>>,
    positionals: Readonly<Record<string, string>> = {},
  ) {
    this.#values = values;
    this.#positionals = positionals;
  }

  withPositionals(positionals: Readonly<Record<string, string>>): Args {
    return new Args(this.#values, positionals);
  }

  positional(name: string): string | undefined {
    return this.#positionals[name];
  }

  /** A positional the command cannot do without, e.g. `<model-version-id>`. */
  argument(name: string): string {
    const value = this.positional(name);
    if (value === undefined || value === '') throw new UsageError(`<${name}> is required`);
    return value;
  }

  string(name: string): string | undefined {
    const value = this.#values[name];
    return typeof value === 'string' ? value : undefined;
  }

  required(name: string): string {
    const value = this.string(name);
    if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
    return value;
  }

  flag(name: string): boolean {
    return this.#values[name] === true;
  }

  /** Every value of a repeatable option, `--stage canary,production` being two. */
  strings(name: string): string[] {
    const value = this.#values[name];
    const given = Array.isArray(value) ? value : value === undefined ? [] : [value];
    return given
      .flatMap((v) => (typeof v === 'string' ? v.split(',') : []))
      .filter((v) => v !== '');
  }

  integer(name: string, range: { min: number; max?: number }): number | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    const value = Number(text);
    const { min, max } = range;
    if (!/^-?\d+$/.test(text) || value < min || (max !== undefined && value > max)) {
      const bounds =
        max === undefined ? `of at least ${String(min)}` : `from ${String(min)} to ${String(max)}`;
      throw new UsageError(`--${name} must be a whole number ${bounds}, not "${text}"`);
    }
    return value;
  }

  number(name: string, range?: { min: number; max: number }): number | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) {
      throw new UsageError(`--${name} must be a number, not "${text}"`);
    }
    if (range !== undefined && (value < range.min || value > range.max)) {
      throw new UsageError(`--${name} must be from ${String(range.min)} to ${String(range.max)}`);
    }
    return value;
  }
}
