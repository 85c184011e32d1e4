import {
  create,
  equals,
  fromBinary,
  fromJson,
  getOption,
  hasOption,
  ScalarType,
  toBinary,
  toJson,
  type DescField,
  type DescFile,
  type DescMessage,
  type DescMethod,
  type JsonValue,
} from '@bufbuild/protobuf';
import { nestedTypes, reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import {
  DurationSchema,
  FieldMaskSchema,
  StructSchema,
  timestampFromDate,
  TimestampSchema,
} from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import * as contracts from './index.js';
import { AccessRole, EventMetaSchema, kafka_topic, required_role } from './index.js';

const exported: Record<string, unknown> = contracts;

function isFile(value: unknown): value is DescFile {
  return typeof value === 'object' && value !== null && 'kind' in value && value.kind === 'file';
}

const files = Object.values(exported)
  .filter(isFile)
  .filter((file) => file.proto.package === 'understudy.v1');
const messages = files.flatMap((file) =>
  [...nestedTypes(file)].filter((type): type is DescMessage => type.kind === 'message'),
);
const methods = files.flatMap((file) => file.services.flatMap((service) => service.methods));
const events = messages.filter((message) => hasOption(message, kafka_topic));

function field(message: DescMessage, name: string): DescField | undefined {
  return message.fields.find((f) => f.name === name);
}

function isScalar(f: DescField | undefined, scalar: ScalarType): boolean {
  return f?.fieldKind === 'scalar' && f.scalar === scalar;
}

function messageOf(f: DescField | undefined): DescMessage | undefined {
  return f?.fieldKind === 'message' ? f.message : undefined;
}

/** Follows a dotted field path such as `call.call_id` to the field it names. */
function resolvePath(message: DescMessage, path: string): DescField | undefined {
  const [head, ...rest] = path.split('.');
  const first = head === undefined ? undefined : field(message, head);
  if (rest.length === 0) return first;
  const next = messageOf(first);
  return next && resolvePath(next, rest.join('.'));
}

const rpcName = (method: DescMethod) => `${method.parent.name}.${method.name}`;

describe('understudy.v1 contracts', () => {
  it('are all generated and re-exported', () => {
    expect(files.map((file) => file.name).sort()).toEqual(
      [
        'audit',
        'calls',
        'capture',
        'clusterer_service',
        'common',
        'dataset_builder_service',
        'datasets',
        'embedder_service',
        'embeddings',
        'models',
        'registry_service',
        'routing',
        'tasks',
        'trainer_service',
        'training',
      ].map((name) => `understudy/v1/${name}`),
    );
    for (const message of messages) expect(exported[`${message.name}Schema`]).toBe(message);
    for (const file of files) {
      for (const service of file.services) expect(exported[service.name]).toBe(service);
    }
  });

  it('re-export the gRPC health and reflection protocols without name clashes', () => {
    expect(contracts.Health.typeName).toBe('grpc.health.v1.Health');
    expect(contracts.reflectionV1.ServerReflection.typeName).toBe(
      'grpc.reflection.v1.ServerReflection',
    );
    expect(contracts.reflectionV1alpha.ServerReflection.typeName).toBe(
      'grpc.reflection.v1alpha.ServerReflection',
    );
  });
});

describe('Kafka events', () => {
  it('are exactly the messages that declare a topic, and every *Event is one', () => {
    expect(events.map((m) => m.name).sort()).toEqual([
      'AuditEvent',
      'CallCaptured',
      'CallEmbedded',
      'CaptureFragment',
      'DatasetEvent',
      'ModelVersionEvent',
      'RouteEvent',
      'TaskEvent',
      'TrainingRunEvent',
    ]);
    for (const message of messages.filter((m) => m.name.endsWith('Event'))) {
      expect(events).toContain(message);
    }
  });

  it.each(events.map((m) => [m.name, m] as const))('%s carries EventMeta as field 1', (_, m) => {
    const first = m.fields.find((f) => f.number === 1);
    expect(first?.name).toBe('meta');
    expect(messageOf(first)).toBe(EventMetaSchema);
  });

  it('travel on distinct versioned topics keyed by a string field', () => {
    const topics = events.map((m) => getOption(m, kafka_topic));
    expect(new Set(topics.map((t) => t.name)).size).toBe(events.length);
    for (const [i, message] of events.entries()) {
      const topic = topics[i]!;
      expect(topic.name).toMatch(/^understudy\.[a-z-]+(\.[a-z-]+)*\.v1$/);
      expect(
        isScalar(resolvePath(message, topic.keyField), ScalarType.STRING),
        `${message.name} key ${topic.keyField}`,
      ).toBe(true);
    }
  });
});

describe('gRPC services', () => {
  it('offer exactly these calls', () => {
    const services = files.flatMap((file) => file.services);
    expect(Object.fromEntries(services.map((s) => [s.name, s.methods.map((m) => m.name)]))).toEqual(
      {
        ModelRegistryService: [
          'GetTask',
          'ListTasks',
          'GetSavingsReport',
          'CreateDataset',
          'GetDataset',
          'ListDatasets',
          'RegisterModelVersion',
          'GetModelVersion',
          'ListModelVersions',
          'UpdateModelVersion',
          'PromoteModelVersion',
          'RetireModelVersion',
          'ApproveModelVersion',
          'GetPromotionPolicy',
          'UpdatePromotionPolicy',
          'CreateEvaluation',
          'GetEvaluation',
          'ListEvaluations',
          'GetRoutingTable',
          'GetRoute',
          'ListRoutes',
          'UpdateRoute',
          'RollbackRoute',
          'WatchRoutingTable',
          'GetModelVersionLineage',
          'GetTaskLineage',
          'ListAuditEntries',
        ],
        TrainerOrchestratorService: [
          'SubmitTrainingRun',
          'GetTrainingRun',
          'ListTrainingRuns',
          'CancelTrainingRun',
          'WatchTrainingRun',
        ],
        ClustererService: ['GetTaskReport', 'ListTaskCalls', 'ClassifyCall'],
        EmbedderService: ['EmbedCall'],
        DatasetBuilderService: ['BuildDataset', 'GetDatasetBuild'],
      },
    );
  });

  it('make every create idempotent by request_id', () => {
    const creating = methods.filter((m) =>
      /^(Create|Register|Submit|Build|Promote|Rollback|Approve)/.test(m.name),
    );
    expect(creating.map(rpcName)).toEqual(
      expect.arrayContaining([
        'ModelRegistryService.CreateDataset',
        'ModelRegistryService.RegisterModelVersion',
        'ModelRegistryService.CreateEvaluation',
        'ModelRegistryService.PromoteModelVersion',
        'ModelRegistryService.RollbackRoute',
        'ModelRegistryService.ApproveModelVersion',
        'TrainerOrchestratorService.SubmitTrainingRun',
        'DatasetBuilderService.BuildDataset',
      ]),
    );
    for (const method of creating) {
      expect(isScalar(field(method.input, 'request_id'), ScalarType.STRING), rpcName(method)).toBe(
        true,
      );
    }
  });

  it('page every list', () => {
    const lists = methods.filter((m) => m.name.startsWith('List'));
    expect(lists).toHaveLength(8);
    for (const method of lists) {
      const name = rpcName(method);
      expect(isScalar(field(method.input, 'page_size'), ScalarType.INT32), name).toBe(true);
      expect(isScalar(field(method.input, 'page_token'), ScalarType.STRING), name).toBe(true);
      expect(isScalar(field(method.output, 'next_page_token'), ScalarType.STRING), name).toBe(true);
      expect(
        method.output.fields.filter((f) => f.fieldKind === 'list'),
        name,
      ).toHaveLength(1);
    }
  });

  it('guard every update with a field mask and an etag', () => {
    const updates = methods.filter((m) => m.name.startsWith('Update'));
    expect(updates).toHaveLength(3);
    for (const method of updates) {
      const name = rpcName(method);
      expect(messageOf(field(method.input, 'update_mask')), name).toBe(FieldMaskSchema);
      const resource = messageOf(method.input.fields.find((f) => f.name !== 'update_mask'));
      expect(resource && isScalar(field(resource, 'etag'), ScalarType.STRING), name).toBe(true);
    }
  });

  it('scope every request to a tenant', () => {
    const hasTenant = (m: DescMessage) => isScalar(field(m, 'tenant_id'), ScalarType.STRING);
    for (const method of methods) {
      const carried = method.input.fields.map(messageOf).filter((m) => m !== undefined);
      expect(hasTenant(method.input) || carried.some(hasTenant), rpcName(method)).toBe(true);
    }
  });

  it('name the least role for every registry call', () => {
    const registry = methods.filter((m) => m.parent.name === 'ModelRegistryService');
    expect(registry.length).toBeGreaterThan(0);
    for (const method of registry) {
      expect(getOption(method, required_role), rpcName(method)).not.toBe(AccessRole.UNSPECIFIED);
    }
    const roleOf = (name: string) =>
      getOption(
        registry.find((m) => m.name === name)!,
        required_role,
      );
    expect(roleOf('GetModelVersion')).toBe(AccessRole.READER);
    expect(roleOf('PromoteModelVersion')).toBe(AccessRole.WRITER);
    expect(roleOf('ApproveModelVersion')).toBe(AccessRole.APPROVER);
    expect(roleOf('UpdatePromotionPolicy')).toBe(AccessRole.ADMIN);
  });

  it('stream from the server for Watch calls only', () => {
    for (const method of methods) {
      expect(method.methodKind, rpcName(method)).toBe(
        method.name.startsWith('Watch') ? 'server_streaming' : 'unary',
      );
    }
  });
});

/** Fills every field (one member per oneof, chosen by `pick`) with a non-default value. */
function populated(desc: DescMessage, pick: 'first' | 'last'): ReflectMessage {
  const wellKnown = wellKnownSample(desc);
  if (wellKnown) return wellKnown;
  const message = reflect(desc);
  for (const f of desc.fields) {
    if (f.oneof) {
      const members = f.oneof.fields;
      if (f !== (pick === 'first' ? members[0] : members[members.length - 1])) continue;
    }
    switch (f.fieldKind) {
      case 'scalar':
        message.set(f, scalarSample(f.scalar));
        break;
      case 'enum':
        message.set(f, enumSample(f));
        break;
      case 'message':
        message.set(f, populated(f.message, pick));
        break;
      case 'list': {
        const list = message.get(f);
        list.add(
          f.listKind === 'message'
            ? populated(f.message, pick)
            : f.listKind === 'enum'
              ? enumSample(f)
              : scalarSample(f.scalar),
        );
        break;
      }
      case 'map': {
        const map = message.get(f);
        map.set(
          scalarSample(f.mapKey),
          f.mapKind === 'message'
            ? populated(f.message, pick)
            : f.mapKind === 'enum'
              ? enumSample(f)
              : scalarSample(f.scalar),
        );
        break;
      }
    }
  }
  return message;
}

function enumSample(f: DescField): number {
  const value = f.enum?.values.find((v) => v.number !== 0);
  if (!value) throw new Error(`${f.toString()} has no enum value to set`);
  return value.number;
}

function scalarSample(scalar: ScalarType): unknown {
  switch (scalar) {
    case ScalarType.STRING:
      return 'sample';
    case ScalarType.BYTES:
      return new Uint8Array([1, 2, 3]);
    case ScalarType.BOOL:
      return true;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return 1.5;
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
    case ScalarType.SINT64:
      return 7n;
    case ScalarType.INT32:
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
    case ScalarType.SINT32:
      return 7;
  }
}

function wellKnownSample(desc: DescMessage): ReflectMessage | undefined {
  switch (desc.typeName) {
    case TimestampSchema.typeName:
      return reflect(TimestampSchema, timestampFromDate(new Date('2026-11-24T10:00:00.250Z')));
    case DurationSchema.typeName:
      return reflect(DurationSchema, create(DurationSchema, { seconds: 90n, nanos: 5e8 }));
    case StructSchema.typeName:
      return reflect(
        StructSchema,
        fromJson(StructSchema, { a: [1, 'b', true, null], c: { d: 2 } }),
      );
    case FieldMaskSchema.typeName:
      return reflect(
        FieldMaskSchema,
        create(FieldMaskSchema, { paths: ['description', 'labels'] }),
      );
  }
  if (desc.typeName.startsWith('google.protobuf.'))
    throw new Error(`no sample for ${desc.typeName}`);
  return undefined;
}

describe('every understudy.v1 message', () => {
  it.each(
    messages.flatMap((m) => (['first', 'last'] as const).map((pick) => [m.name, pick, m] as const)),
  )(
    '%s, fully populated (%s oneof members), survives binary and JSON round trips',
    (_, pick, desc) => {
      const message = populated(desc, pick);
      expect(message.fields.filter((f) => !f.oneof && !message.isSet(f))).toEqual([]);
      expect(message.oneofs.filter((o) => !message.oneofCase(o))).toEqual([]);
      const original = message.message;
      const viaBinary = fromBinary(desc, toBinary(desc, original));
      const json = JSON.parse(JSON.stringify(toJson(desc, original))) as JsonValue;
      expect(equals(desc, viaBinary, original)).toBe(true);
      expect(equals(desc, fromJson(desc, json), original)).toBe(true);
    },
  );
});
