import type { Io } from './io.js';
import type { Args, OptionSpecs } from './command.js';
import { UsageError } from './failure.js';
import { formats, type Format } from './output.js';
import type { Paging } from './paging.js';

/** The registry's gRPC port unless UNDERSTUDY_GRPC_PORT moves it (libs/service grpcSettings). */
export const defaultAddress = 'localhost:50051';

export const env = {
  address: 'UNDERSTUDY_REGISTRY_ADDRESS',
  tokenFile: 'UNDERSTUDY_REGISTRY_TOKEN_FILE',
  tenant: 'UNDERSTUDY_TENANT',
} as const;

/** Options every command takes, anywhere on its command line. */
export const globalOptions: OptionSpecs = {
  address: {
    type: 'string',
    value: 'HOST:PORT',
    description: `Registry to call (env ${env.address}, default ${defaultAddress})`,
  },
  'token-file': {
    type: 'string',
    value: 'FILE',
    description: `Bearer token to authenticate with, read from FILE (env ${env.tokenFile})`,
  },
  tls: { type: 'boolean', description: "Use TLS, trusting the system's certificate authorities" },
  'tls-ca': {
    type: 'string',
    value: 'FILE',
    description: 'Use TLS, trusting the CA certificates in FILE',
  },
  'tls-cert': {
    type: 'string',
    value: 'FILE',
    description: 'Client certificate for mutual TLS (with --tls-key)',
  },
  'tls-key': { type: 'string', value: 'FILE', description: 'Private key of --tls-cert' },
  tenant: {
    type: 'string',
    value: 'ID',
    description: `Tenant to act for (env ${env.tenant}); default: your own`,
  },
  output: {
    type: 'string',
    short: 'o',
    value: 'FORMAT',
    description: 'table (default) or json',
  },
  help: { type: 'boolean', short: 'h', description: 'Show help for the command' },
};

/** Options of the commands that list. */
export const pagingOptions: OptionSpecs = {
  'page-size': {
    type: 'string',
    value: 'N',
    description: 'Results per page (registry default 50, at most 500)',
  },
  'page-token': { type: 'string', value: 'TOKEN', description: 'Resume from a previous page' },
  all: { type: 'boolean', description: 'Follow page tokens to the end' },
};

export interface Tls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface Connection {
  readonly address: string;
  readonly tokenFile?: string;
  /** Unset for plaintext. */
  readonly tls?: Tls;
}

export interface Globals {
  readonly connection: Connection;
  readonly tenantId: string;
  readonly format: Format;
  readonly paging: Paging;
  readonly help: boolean;
}

/** Flags first, then the environment, then defaults; an empty variable counts as unset. */
export function resolveGlobals(args: Args, environment: Io['env']): Globals {
  const fromEnv = (name: string): string | undefined => {
    const value = environment[name];
    return value === undefined || value === '' ? undefined : value;
  };
  const format = args.string('output') ?? 'table';
  if (!isFormat(format)) {
    throw new UsageError(`--output must be ${formats.join(' or ')}, not "${format}"`);
  }
  const tokenFile = args.string('token-file') ?? fromEnv(env.tokenFile);
  const tls = tlsOf(args);
  return {
    connection: {
      address: args.string('address') ?? fromEnv(env.address) ?? defaultAddress,
      ...(tokenFile !== undefined && { tokenFile }),
      ...(tls !== undefined && { tls }),
    },
    tenantId: args.string('tenant') ?? fromEnv(env.tenant) ?? '',
    format,
    paging: {
      pageSize: args.integer('page-size', { min: 1 }) ?? 0,
      pageToken: args.string('page-token') ?? '',
      all: args.flag('all'),
    },
    help: args.flag('help'),
  };
}

function isFormat(value: string): value is Format {
  return (formats as readonly string[]).includes(value);
}

function tlsOf(args: Args): Tls | undefined {
  const ca = args.string('tls-ca');
  const cert = args.string('tls-cert');
  const key = args.string('tls-key');
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  if (!args.flag('tls') && ca === undefined && cert === undefined) return undefined;
  return {
    ...(ca !== undefined && { ca }),
    ...(cert !== undefined && { cert }),
    ...(key !== undefined && { key }),
  };
}
