import { create } from '@bufbuild/protobuf';
import {
  ModelVersionEventSchema,
  RouteEventSchema,
  type EventMeta,
  type ModelStage,
  type ModelVersion,
  type ModelVersionEvent,
  type Route,
  type RouteEvent,
} from '@understudy/contracts';
import { eventMeta as newEventMeta } from '@understudy/messaging';

export const producerName = 'model-registry';

/** A new event's header, carrying the W3C trace context of the active span. */
export const eventMeta = (tenantId: string): EventMeta =>
  newEventMeta({ tenantId, producer: producerName });

function modelVersionEvent(
  modelVersion: ModelVersion,
  kind: ModelVersionEvent['kind'],
): ModelVersionEvent {
  return create(ModelVersionEventSchema, {
    meta: eventMeta(modelVersion.tenantId),
    modelVersionId: modelVersion.modelVersionId,
    taskId: modelVersion.taskId,
    kind,
  });
}

export function registered(modelVersion: ModelVersion): ModelVersionEvent {
  return modelVersionEvent(modelVersion, {
    case: 'registered',
    value: { $typeName: 'understudy.v1.ModelVersionRegistered', modelVersion },
  });
}

export function promoted(modelVersion: ModelVersion, from: ModelStage): ModelVersionEvent {
  return modelVersionEvent(modelVersion, {
    case: 'promoted',
    value: {
      $typeName: 'understudy.v1.ModelVersionPromoted',
      modelVersion,
      fromStage: from,
      toStage: modelVersion.stage,
    },
  });
}

export function rolledBack(
  modelVersion: ModelVersion,
  from: ModelStage,
  reason: string,
): ModelVersionEvent {
  return modelVersionEvent(modelVersion, {
    case: 'rolledBack',
    value: {
      $typeName: 'understudy.v1.ModelVersionRolledBack',
      modelVersion,
      fromStage: from,
      toStage: modelVersion.stage,
      reason,
    },
  });
}

export function retired(modelVersion: ModelVersion, reason: string): ModelVersionEvent {
  return modelVersionEvent(modelVersion, {
    case: 'retired',
    value: { $typeName: 'understudy.v1.ModelVersionRetired', modelVersion, reason },
  });
}

export function routesChanged(tenantId: string, revision: bigint, routes: Route[]): RouteEvent {
  return create(RouteEventSchema, { meta: eventMeta(tenantId), revision, routes });
}
