import {
  ModelStage,
  ModelStageSchema,
  ResourceType,
  ResourceTypeSchema,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import type { Command } from './command.js';
import { commands } from './commands.js';
import { enumValue } from './enums.js';
import { UsageError } from './failure.js';
import { resolveGlobals } from './globals.js';
import { bind, locate, parse } from './parse.js';
import { parseTime } from './registry/audit.js';

function parsed(argv: string[]) {
  const located = locate(commands, argv);
  const result = parse(located, argv);
  return { located, result, args: bind(located.node as Command, result) };
}

describe('locating a command', () => {
  it('walks the words of the command tree, with global options before them', () => {
    const located = locate(commands, [
      '--output',
      'json',
      'registry',
      'models',
      'list',
      '--task',
      't1',
    ]);
    expect(located.path).toEqual(['registry', 'models', 'list']);
    expect(located.node.kind).toBe('command');
  });

  it('stops at a group when the words run out, and names a word that is no command', () => {
    expect(locate(commands, ['registry']).node.kind).toBe('group');
    expect(locate(commands, ['registry', 'modles'])).toMatchObject({
      path: ['registry'],
      unknown: 'modles',
    });
    // Names inherited from Object.prototype are no commands.
    expect(locate(commands, ['constructor']).unknown).toBe('constructor');
  });
});

describe('parsing a command line', () => {
  it('takes global and command options anywhere after the name, positionals by name', () => {
    const { args } = parsed([
      'registry',
      'promote',
      'mv-1',
      '--to',
      'canary',
      '--tenant=acme',
      '--percent',
      '10',
    ]);
    expect(args.argument('model-version-id')).toBe('mv-1');
    expect(args.required('to')).toBe('canary');
    expect(args.integer('percent', { min: 1, max: 100 })).toBe(10);
    expect(args.string('tenant')).toBe('acme');
  });

  it('reads repeated and comma-separated values as one list', () => {
    const { args } = parsed([
      'registry',
      'models',
      'list',
      '--stage',
      'canary,production',
      '--stage',
      'shadow',
    ]);
    expect(args.strings('stage')).toEqual(['canary', 'production', 'shadow']);
  });

  it.each([
    [['registry', 'promote', 'mv-1', '--to', 'canary', '--bogus'], /Unknown option '--bogus'/],
    [['registry', 'promote', '--to', 'canary'], /<model-version-id> is required/],
    [['registry', 'promote', 'mv-1'], /--to is required/],
    [['registry', 'models', 'show', 'mv-1', 'mv-2'], /unexpected argument "mv-2"/],
    [['registry', 'rollback', '--task'], /argument missing/],
    [
      ['registry', 'tasks', 'list', '--all', '--page-size', 'ten'],
      /--page-size must be a whole number/,
    ],
  ])('refuses %j', (argv, message) => {
    expect(() => {
      const { result } = parsed(argv);
      resolveGlobals(result.options, {});
    }).toThrow(message);
  });

  it('offers paging options only to commands that list', () => {
    expect(() => parsed(['registry', 'models', 'show', 'mv-1', '--all'])).toThrow(UsageError);
    expect(parsed(['registry', 'routes', 'list', '--all']).args.flag('all')).toBe(true);
  });
});

describe('global options', () => {
  const globalsOf = (argv: string[], env: Record<string, string> = {}) =>
    resolveGlobals(parsed(argv).result.options, env);

  it('take flags first, then the environment, then defaults', () => {
    const argv = ['registry', 'tasks', 'list'];
    expect(globalsOf(argv)).toMatchObject({
      connection: { address: 'localhost:50051' },
      tenantId: '',
      format: 'table',
      paging: { pageSize: 0, pageToken: '', all: false },
    });
    const env = {
      UNDERSTUDY_REGISTRY_ADDRESS: 'registry:7000',
      UNDERSTUDY_REGISTRY_TOKEN_FILE: '/run/token',
      UNDERSTUDY_TENANT: 'acme',
    };
    expect(globalsOf(argv, env)).toMatchObject({
      connection: { address: 'registry:7000', tokenFile: '/run/token' },
      tenantId: 'acme',
    });
    expect(
      globalsOf([...argv, '--address', 'other:1', '--tenant', 'zeta', '-o', 'json'], env),
    ).toMatchObject({
      connection: { address: 'other:1' },
      tenantId: 'zeta',
      format: 'json',
    });
  });

  it('turn TLS on with any TLS option, and want a client certificate with its key', () => {
    expect(globalsOf(['registry', 'tasks', 'list']).connection.tls).toBeUndefined();
    expect(globalsOf(['registry', 'tasks', 'list', '--tls']).connection.tls).toEqual({});
    expect(globalsOf(['registry', 'tasks', 'list', '--tls-ca', 'ca.pem']).connection.tls).toEqual({
      ca: 'ca.pem',
    });
    expect(() => globalsOf(['registry', 'tasks', 'list', '--tls-cert', 'c.pem'])).toThrow(
      /--tls-cert and --tls-key go together/,
    );
    expect(() => globalsOf(['registry', 'tasks', 'list', '-o', 'yaml'])).toThrow(
      /--output must be table or json/,
    );
  });
});

describe('values of options', () => {
  it('name enum values as people type them, among those allowed', () => {
    expect(enumValue(ModelStageSchema, 'to', 'Canary')).toBe(ModelStage.CANARY);
    expect(enumValue(ResourceTypeSchema, 'resource-type', 'model-version')).toBe(
      ResourceType.MODEL_VERSION,
    );
    expect(() =>
      enumValue(ModelStageSchema, 'to', 'registered', [ModelStage.SHADOW, ModelStage.CANARY]),
    ).toThrow('--to must be one of shadow, canary, not "registered"');
    expect(() => enumValue(ModelStageSchema, 'to', 'unspecified')).toThrow(UsageError);
  });

  it('read times as ISO 8601 or as an age before now', () => {
    const now = new Date('2026-03-10T00:00:00Z');
    expect(parseTime('since', '7d', now).toISOString()).toBe('2026-03-03T00:00:00.000Z');
    expect(parseTime('since', '90m', now).toISOString()).toBe('2026-03-09T22:30:00.000Z');
    expect(parseTime('since', '2026-03-01T08:00:00Z', now).toISOString()).toBe(
      '2026-03-01T08:00:00.000Z',
    );
    expect(() => parseTime('since', 'yesterday', now)).toThrow(/--since must be an ISO 8601 time/);
  });
});
