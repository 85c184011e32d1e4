import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { GrpcServerOptions } from '@understudy/grpc';
import type { Logger } from '@understudy/telemetry';
import { registryAuthenticate } from './authenticate.js';
import { readPrincipals } from './principals.js';
import { registryAuthorize } from './tenant-scope.js';

/** The registry's access settings, as `config.ts` declares them. */
export interface AccessConfig {
  readonly auth: 'on' | 'off';
  readonly principalsFile: string | undefined;
}

function invalid(problem: string, variables: string[]): UnderstudyError {
  return new UnderstudyError(ErrorCode.InvalidArgument, `invalid configuration:\n  ${problem}`, {
    details: { variables },
  });
}

/**
 * Who may call the registry: the principals file's callers, each within its role and tenants;
 * or, only when `UNDERSTUDY_REGISTRY_AUTH=off` says so, anyone (a warning at every start). A
 * registry with neither refuses to start.
 */
export async function registryAccess(
  config: AccessConfig,
  logger: Logger,
): Promise<Pick<GrpcServerOptions, 'authenticate' | 'authorize'>> {
  if (config.auth === 'off') {
    if (config.principalsFile !== undefined) {
      throw invalid(
        'UNDERSTUDY_REGISTRY_PRINCIPALS_FILE: set while UNDERSTUDY_REGISTRY_AUTH=off; unset one',
        ['UNDERSTUDY_REGISTRY_PRINCIPALS_FILE', 'UNDERSTUDY_REGISTRY_AUTH'],
      );
    }
    logger.warn(
      {},
      'UNDERSTUDY_REGISTRY_AUTH=off: any caller may read and change every tenant in the registry',
    );
    return {};
  }
  if (config.principalsFile === undefined) {
    throw invalid(
      'UNDERSTUDY_REGISTRY_PRINCIPALS_FILE (missing): required unless UNDERSTUDY_REGISTRY_AUTH=off',
      ['UNDERSTUDY_REGISTRY_PRINCIPALS_FILE'],
    );
  }
  const principals = await readPrincipals(config.principalsFile);
  return { authenticate: registryAuthenticate(principals), authorize: registryAuthorize };
}
