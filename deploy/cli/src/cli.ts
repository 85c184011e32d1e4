import { commands } from './commands.js';
import { connect } from './connection.js';
import { ExitCode, failureJson, failureOf, renderFailure, UsageError } from './failure.js';
import { resolveGlobals } from './globals.js';
import { helpOf } from './help.js';
import type { Io } from './io.js';
import { Output, type Format } from './output.js';
import { bind, locate, parse } from './parse.js';

/**
 * Runs one command line and returns its exit status: 0, or the class of failure (see
 * `ExitCode`). Everything it prints goes to `io`, which makes it testable in-process.
 */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  let format: Format = 'table';
  let path: readonly string[] = [];
  try {
    const located = locate(commands, argv);
    path = located.path;
    if (located.unknown !== undefined) {
      io.stderr.write(
        `error: unknown command "${located.unknown}"\n\n${helpOf(path, located.node)}`,
      );
      return ExitCode.Usage;
    }
    const parsed = parse(located, argv);
    const globals = resolveGlobals(parsed.options, io.env);
    format = globals.format;
    const { node } = located;
    if (globals.help) {
      io.stdout.write(helpOf(path, node));
      return ExitCode.Ok;
    }
    if (node.kind === 'group') {
      io.stderr.write(helpOf(path, node));
      return ExitCode.Usage;
    }
    const args = bind(node, parsed);
    const registry = await connect(globals.connection);
    try {
      await node.run(
        {
          registry,
          tenantId: globals.tenantId,
          paging: globals.paging,
          output: new Output(format, io),
        },
        args,
      );
    } finally {
      registry.close();
    }
    return ExitCode.Ok;
  } catch (error) {
    const failure = failureOf(error);
    io.stderr.write(format === 'json' ? failureJson(failure) : renderFailure(failure));
    if (error instanceof UsageError && format === 'table') {
      io.stderr.write(`Run '${['understudy', ...path, '--help'].join(' ')}' for usage.\n`);
    }
    return failure.exitCode;
  }
}
