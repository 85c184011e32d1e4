import { create } from '@bufbuild/protobuf';
import {
  ModelVersionEventSchema,
  RouteEventSchema,
  type Approval,
  type Evaluation,
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

/** The version an event is about; its events are keyed by its task. */
type Subject = Pick<ModelVersion, 'tenantId' | 'modelVersionId' | 'taskId'>;

function modelVersionEvent(
  modelVersion: Subject,
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

export function updated(modelVersion: ModelVersion): ModelVersionEvent {
  return modelVersionEvent(modelVersion, {
    case: 'updated',
    value: { $typeName: 'understudy.v1.ModelVersionUpdated', modelVersion },
  });
}

export function retired(modelVersion: ModelVersion, reason: string): ModelVersionEvent {
  return modelVersionEvent(modelVersion, {
    case: 'retired',
    value: { $typeName: 'understudy.v1.ModelVersionRetired', modelVersion, reason },
  });
}

export function evaluated(modelVersion: Subject, evaluation: Evaluation): ModelVersionEvent {
  return modelVersionEvent(modelVersion, {
    case: 'evaluated',
    value: { $typeName: 'understudy.v1.ModelVersionEvaluated', evaluation },
  });
}

export function approved(modelVersion: Subject, approval: Approval): ModelVersionEvent {
  return modelVersionEvent(modelVersion, {
    case: 'approved',
    value: { $typeName: 'understudy.v1.ModelVersionApproved', approval },
  });
}

export function routesChanged(tenantId: string, revision: bigint, routes: Route[]): RouteEvent {
  return create(RouteEventSchema, { meta: eventMeta(tenantId), revision, routes });
}
