import { getOption, type DescMethod } from '@bufbuild/protobuf';
import { required_role } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { Authenticate, Peer } from '@understudy/grpc';
import { apiKeyOf } from '@understudy/tenancy';
import { roleName, type RegistryCaller } from './caller.js';
import type { Principals } from './principals.js';

type Metadata = Parameters<Authenticate>[0];

/** A metadata value as text; binary (`-bin`) values are no credentials. */
function textOf(metadata: Metadata, key: string): string | undefined {
  const [value] = metadata.get(key);
  return typeof value === 'string' ? value : undefined;
}

/**
 * Who is calling: the principal of the bearer token (`authorization: Bearer …`, or
 * `x-understudy-key` as at the other edges), else of the client certificate under mutual TLS.
 * Failures never repeat what was presented.
 */
function identify(principals: Principals, metadata: Metadata, peer: Peer): RegistryCaller {
  const token = apiKeyOf({
    authorization: textOf(metadata, 'authorization'),
    'x-understudy-key': textOf(metadata, 'x-understudy-key'),
  });
  if (token !== undefined) {
    const caller = principals.byToken(token);
    if (caller === undefined) {
      throw new UnderstudyError(ErrorCode.Unauthenticated, 'the bearer token is not known');
    }
    return caller;
  }
  if (peer.certificate !== undefined) {
    const caller = principals.byCertificate(peer.certificate);
    if (caller === undefined) {
      throw new UnderstudyError(
        ErrorCode.Unauthenticated,
        'the client certificate names no principal',
      );
    }
    return caller;
  }
  throw new UnderstudyError(
    ErrorCode.Unauthenticated,
    'a bearer token (authorization: Bearer <token>) or a client certificate is required',
  );
}

/**
 * The registry's `authenticate` hook: the caller, who must hold the role the method declares
 * (`understudy.v1.required_role`, also shown by reflection), before its request is read.
 */
export function registryAuthenticate(principals: Principals): Authenticate {
  return (metadata: Metadata, method: DescMethod, peer: Peer) => {
    const caller = identify(principals, metadata, peer);
    const required = getOption(method, required_role);
    if (!caller.holds(required)) {
      throw new UnderstudyError(
        ErrorCode.PermissionDenied,
        `${method.name} needs the ${roleName(required)} role`,
        { details: { requiredRole: roleName(required) } },
      );
    }
    return caller;
  };
}
