import {
  clone,
  ScalarType,
  type DescField,
  type DescMessage,
  type Message,
} from '@bufbuild/protobuf';
import { reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { Authorize } from '@understudy/grpc';
import { RegistryCaller } from './caller.js';

/** Where a request names a tenant: its own `tenant_id`, or that of a message it carries. */
interface TenantPlace {
  /** The singular message field holding the tenant; absent for the request's own field. */
  readonly carrier?: DescField;
  readonly field: DescField;
}

function tenantField(message: DescMessage): DescField | undefined {
  return message.fields.find(
    (f) => f.name === 'tenant_id' && f.fieldKind === 'scalar' && f.scalar === ScalarType.STRING,
  );
}

const placesByInput = new WeakMap<DescMessage, readonly TenantPlace[]>();

/**
 * Every registry request names its tenant at the top or in the one resource it carries (a test of
 * the contracts holds every RPC to it): both are looked for, so that no handler has to.
 */
function tenantPlaces(input: DescMessage): readonly TenantPlace[] {
  let places = placesByInput.get(input);
  if (places === undefined) {
    const own = tenantField(input);
    places = [
      ...(own === undefined ? [] : [{ field: own }]),
      ...input.fields.flatMap((carrier) => {
        const field = carrier.fieldKind === 'message' ? tenantField(carrier.message) : undefined;
        return field === undefined ? [] : [{ carrier, field }];
      }),
    ];
    placesByInput.set(input, places);
  }
  return places;
}

/** The message holding a place's tenant: the request, or the carried message if it is set. */
function holderOf(request: ReflectMessage, place: TenantPlace): ReflectMessage | undefined {
  if (place.carrier === undefined) return request;
  if (!request.isSet(place.carrier)) return undefined;
  const carried: unknown = request.get(place.carrier);
  return carried as ReflectMessage;
}

function outOfScope(caller: RegistryCaller, detail: string): UnderstudyError {
  return new UnderstudyError(ErrorCode.PermissionDenied, `${caller.subject} ${detail}`);
}

/**
 * The registry's `authorize` hook, run on every decoded request: each tenant it names must be
 * one the caller acts for (PERMISSION_DENIED otherwise, before any query). A request that names
 * none is for the caller's tenant when it has exactly one (filled in here); otherwise it means
 * every tenant (GetRoutingTable, WatchRoutingTable) and needs a caller of every tenant (`*`).
 * Resources of another tenant named by id stay NOT_FOUND: the stores look them up within the
 * request's tenant.
 */
export const registryAuthorize: Authorize = (request: Message, context) => {
  const caller = context.principal;
  // Fails closed should the server have been built without the authenticate hook.
  if (!(caller instanceof RegistryCaller)) {
    throw new UnderstudyError(ErrorCode.Internal, `${context.method.name} was not authenticated`);
  }
  const input = context.method.input;
  const places = tenantPlaces(input);
  if (places.length === 0 && !caller.actsForAllTenants) {
    throw outOfScope(caller, `may not call ${context.method.name}, which names no tenant`);
  }
  const scoped = clone(input, request);
  const message = reflect(input, scoped);
  for (const place of places) {
    const holder = holderOf(message, place);
    if (holder === undefined) continue;
    const tenantId: unknown = holder.get(place.field);
    if (tenantId !== '') {
      if (typeof tenantId !== 'string' || !caller.actsFor(tenantId)) {
        throw outOfScope(caller, `may not act for tenant ${String(tenantId)}`);
      }
    } else if (caller.tenantId !== undefined) {
      holder.set(place.field, caller.tenantId);
    } else if (!caller.actsForAllTenants) {
      throw outOfScope(caller, 'acts for several tenants: name one in tenant_id');
    }
  }
  return scoped;
};
