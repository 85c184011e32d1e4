import { fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import type { EntityManager } from 'typeorm';
import { digestOf } from '../domain/paging.js';
import { requestReused } from '../domain/validation.js';
import { RequestLogRow } from './entities.js';

/**
 * A change asked for by request_id: the RPC, the tenant, and a digest of everything the request
 * asked (its caller included), so that a repeat can be told from a different request.
 */
export interface LoggedRequest {
  readonly tenantId: string;
  readonly method: string;
  readonly requestId: string;
  readonly digest: string;
}

export function loggedRequest(
  method: string,
  input: { readonly tenantId: string; readonly requestId: string },
): LoggedRequest {
  return {
    tenantId: input.tenantId,
    method,
    requestId: input.requestId,
    digest: digestOf(input),
  };
}

/**
 * The response the request got the first time, when it is a repeat; ALREADY_EXISTS when its
 * request_id was first used for a different request. Read it under the lock that serialises the
 * change, before checking anything that the first run may itself have changed (etags,
 * revisions): a late retry must get the first answer, not re-apply or fail.
 */
export async function replayed<Desc extends DescMessage>(
  manager: EntityManager,
  request: LoggedRequest,
  schema: Desc,
): Promise<MessageShape<Desc> | undefined> {
  const { tenantId, method, requestId } = request;
  const row = await manager.findOneBy(RequestLogRow, { tenantId, method, requestId });
  if (row === null) return undefined;
  if (row.requestDigest !== request.digest) throw requestReused(requestId);
  return fromBinary(schema, row.response);
}

/** Keeps the response with the change, in its transaction, for repeats of the request. */
export async function remember<Desc extends DescMessage>(
  manager: EntityManager,
  request: LoggedRequest,
  schema: Desc,
  response: MessageShape<Desc>,
): Promise<void> {
  await manager.insert(RequestLogRow, {
    tenantId: request.tenantId,
    method: request.method,
    requestId: request.requestId,
    requestDigest: request.digest,
    response: Buffer.from(toBinary(schema, response)),
    createdAt: new Date(),
  });
}
