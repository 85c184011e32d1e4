import type { Command, Group, OptionSpec, OptionSpecs } from './command.js';
import { width } from './format/table.js';
import { globalOptions, pagingOptions } from './globals.js';

const program = 'understudy';

function usage(path: readonly string[], node: Command | Group): string {
  const name = [program, ...path].join(' ');
  if (node.kind === 'group') return `Usage: ${name} <command> [options]`;
  const positionals = (node.positionals ?? []).map((p) =>
    p.optional ? `[<${p.name}>]` : `<${p.name}>`,
  );
  const required = Object.entries(node.options ?? {}).flatMap(([option, spec]) =>
    spec.required === true
      ? [`--${option}${spec.value === undefined ? '' : ` ${spec.value}`}`]
      : [],
  );
  return `Usage: ${[name, ...positionals, ...required, '[options]'].join(' ')}`;
}

/** Words filled into lines of at most `size` characters. */
export function wrap(text: string, size: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (current !== '' && width(current) + 1 + width(word) > size) {
      lines.push(current);
      current = word;
    } else {
      current = current === '' ? word : `${current} ${word}`;
    }
  }
  return current === '' ? lines : [...lines, current];
}

function flagOf(name: string, spec: OptionSpec): string {
  const flag = `${spec.short === undefined ? '    ' : `-${spec.short}, `}--${name}`;
  const value = spec.value === undefined ? '' : ` ${spec.value}`;
  return `${flag}${value}${spec.multiple === true ? ' …' : ''}`;
}

/** One line per option, descriptions aligned at `size` across every section of the help. */
function optionLines(specs: OptionSpecs, size: number): string[] {
  return Object.entries(specs).map(
    ([name, spec]) => `  ${flagOf(name, spec).padEnd(size)}  ${spec.description}`,
  );
}

function flagWidth(...sections: OptionSpecs[]): number {
  return Math.max(
    ...sections.flatMap((specs) => Object.entries(specs).map(([n, s]) => width(flagOf(n, s)))),
  );
}

function section(title: string, lines: readonly string[]): string[] {
  return lines.length === 0 ? [] : ['', `${title}:`, ...lines];
}

/** Help for a group (its commands) or a command (its options and examples). */
export function helpOf(path: readonly string[], node: Command | Group): string {
  const summary = node.summary.endsWith('.') ? node.summary : `${node.summary}.`;
  if (node.kind === 'group') {
    const entries = Object.entries(node.commands);
    const size = Math.max(...entries.map(([name]) => width(name)));
    return (
      [
        usage(path, node),
        '',
        summary,
        ...section(
          'Commands',
          entries.map(([name, child]) => `  ${name.padEnd(size)}  ${child.summary}`),
        ),
        ...section('Global options', optionLines(globalOptions, flagWidth(globalOptions))),
        '',
        `Run '${[program, ...path, '<command>', '--help'].join(' ')}' for more.`,
      ].join('\n') + '\n'
    );
  }
  const options = node.options ?? {};
  const size = flagWidth(options, node.paged === true ? pagingOptions : {}, globalOptions);
  return (
    [
      usage(path, node),
      '',
      summary,
      ...(node.description === undefined ? [] : ['', ...wrap(node.description, 80)]),
      ...section('Options', optionLines(options, size)),
      ...section('Paging options', node.paged === true ? optionLines(pagingOptions, size) : []),
      ...section('Global options', optionLines(globalOptions, size)),
      ...section(
        'Examples',
        node.examples.map((example) => `  ${example}`),
      ),
    ].join('\n') + '\n'
  );
}
