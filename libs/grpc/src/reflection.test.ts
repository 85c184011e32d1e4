import { fromBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { status } from '@grpc/grpc-js';
import { ModelRegistryService, reflectionV1, reflectionV1alpha } from '@understudy/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from './client.js';
import { ReflectionIndex, type ReflectionAnswer, type ReflectionQuery } from './reflection.js';
import type { GrpcServer } from './server.js';
import { Echo, echoFile, typesFile } from './testing/echo.js';
import { echoImpl, startServer } from './testing/harness.js';

type V1Request = MessageInitShape<typeof reflectionV1.ServerReflectionRequestSchema>;

let server: GrpcServer;
let v1: Client<typeof reflectionV1.ServerReflection>;
let v1alpha: Client<typeof reflectionV1alpha.ServerReflection>;

beforeAll(async () => {
  const started = await startServer((s) => s.register(Echo, echoImpl));
  server = started.server;
  v1 = createClient(reflectionV1.ServerReflection, started.address);
  v1alpha = createClient(reflectionV1alpha.ServerReflection, started.address);
});

afterAll(async () => {
  v1.close();
  v1alpha.close();
  await server.shutdown();
});

async function* from<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield await Promise.resolve(item);
}

/** Sends the requests on one stream and collects the answers. */
async function ask(requests: V1Request[]) {
  const answers = [];
  for await (const answer of v1.serverReflectionInfo(from(requests))) answers.push(answer);
  return answers;
}

function fileNames(answer: ReflectionAnswer | { case: undefined }): string[] {
  if (answer.case !== 'fileDescriptorResponse') throw new Error(`got ${String(answer.case)}`);
  return answer.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name);
}

describe('server reflection over the wire', () => {
  it('lists every service, health and reflection included', async () => {
    const [answer] = await ask([
      { host: 'h', messageRequest: { case: 'listServices', value: '' } },
    ]);
    expect(answer?.validHost).toBe('h');
    expect(answer?.originalRequest?.messageRequest.case).toBe('listServices');
    expect(answer?.messageResponse.case).toBe('listServicesResponse');
    const names =
      answer?.messageResponse.case === 'listServicesResponse'
        ? answer.messageResponse.value.service.map((s) => s.name)
        : [];
    expect(names).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'understudy.grpc.testing.v1.Echo',
    ]);
  });

  it('sends the file containing a symbol with all its transitive imports', async () => {
    const answers = await ask([
      { host: '', messageRequest: { case: 'fileContainingSymbol', value: Echo.typeName } },
      {
        host: '',
        messageRequest: {
          case: 'fileContainingSymbol',
          value: 'understudy.grpc.testing.v1.Echo.Repeat',
        },
      },
      { host: '', messageRequest: { case: 'fileByFilename', value: typesFile } },
    ]);
    expect(answers).toHaveLength(3);
    const [service, method, types] = answers.map((a) => fileNames(a.messageResponse));
    expect(service?.[0]).toBe(echoFile);
    expect(new Set(service)).toEqual(
      new Set([
        echoFile,
        typesFile,
        'google/protobuf/timestamp.proto',
        'google/protobuf/descriptor.proto',
        'google/protobuf/empty.proto',
        'google/protobuf/wrappers.proto',
      ]),
    );
    expect(method).toEqual(service);
    expect(types).toEqual([
      typesFile,
      'google/protobuf/timestamp.proto',
      'google/protobuf/descriptor.proto',
    ]);
  });

  it('answers errors for unknown symbols and files without ending the stream', async () => {
    const answers = await ask([
      { host: '', messageRequest: { case: 'fileContainingSymbol', value: 'no.such.Thing' } },
      { host: '', messageRequest: { case: 'fileByFilename', value: 'no/such.proto' } },
      { host: '', messageRequest: { case: 'listServices', value: '' } },
    ]);
    expect(answers.map((a) => a.messageResponse.case)).toEqual([
      'errorResponse',
      'errorResponse',
      'listServicesResponse',
    ]);
    expect(answers[0]?.messageResponse.value).toMatchObject({
      errorCode: status.NOT_FOUND,
      errorMessage: 'symbol "no.such.Thing" not found',
    });
  });

  it('serves v1alpha from the same descriptors', async () => {
    const answers = [];
    const requests = from([
      { host: '', messageRequest: { case: 'fileContainingSymbol' as const, value: Echo.typeName } },
    ]);
    for await (const answer of v1alpha.serverReflectionInfo(requests)) answers.push(answer);
    expect(fileNames(answers[0]?.messageResponse ?? { case: undefined })[0]).toBe(echoFile);
  });
});

describe('ReflectionIndex', () => {
  const index = new ReflectionIndex([Echo]);
  const find = (query: ReflectionQuery): ReflectionAnswer => index.answer(query);

  it('finds messages, fields, enums and enum values by their full names', () => {
    for (const symbol of [
      'understudy.grpc.testing.v1.Tick',
      'understudy.grpc.testing.v1.Tick.note',
      'understudy.grpc.testing.v1.Tone',
      'understudy.grpc.testing.v1.TONE_LOUD',
      'google.protobuf.Timestamp',
    ]) {
      expect(find({ case: 'fileContainingSymbol', value: symbol }).case).toBe(
        'fileDescriptorResponse',
      );
    }
  });

  it('answers extension queries', () => {
    const options = 'google.protobuf.MessageOptions';
    expect(find({ case: 'allExtensionNumbersOfType', value: options })).toEqual({
      case: 'allExtensionNumbersResponse',
      value: { baseTypeName: options, extensionNumber: [50001] },
    });
    expect(
      find({ case: 'allExtensionNumbersOfType', value: 'understudy.grpc.testing.v1.Tick' }),
    ).toMatchObject({ value: { extensionNumber: [] } });
    expect(find({ case: 'allExtensionNumbersOfType', value: 'x.Y' }).case).toBe('errorResponse');
    const extension = find({
      case: 'fileContainingExtension',
      value: { containingType: options, extensionNumber: 50001 },
    });
    expect(fileNames(extension)[0]).toBe(typesFile);
    expect(
      find({
        case: 'fileContainingExtension',
        value: { containingType: options, extensionNumber: 50002 },
      }),
    ).toMatchObject({ case: 'errorResponse', value: { errorCode: status.NOT_FOUND } });
    expect(find({ case: undefined })).toMatchObject({
      case: 'errorResponse',
      value: { errorCode: status.INVALID_ARGUMENT },
    });
  });

  it('sends a generated contract with an import-closed set of files', () => {
    const answer = new ReflectionIndex([ModelRegistryService]).answer({
      case: 'fileContainingSymbol',
      value: 'understudy.v1.ModelRegistryService.WatchRoutingTable',
    });
    const files =
      answer.case === 'fileDescriptorResponse'
        ? answer.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b))
        : [];
    const names = files.map((f) => f.name);
    expect(names[0]).toBe('understudy/v1/registry_service.proto');
    expect(names).toContain('understudy/v1/routing.proto');
    expect(names).toContain('google/protobuf/field_mask.proto');
    expect(new Set(names).size).toBe(names.length);
    // Every import of every file sent is sent too: a client can build them all.
    for (const file of files) {
      for (const dependency of file.dependency) expect(names).toContain(dependency);
    }
  });
});
