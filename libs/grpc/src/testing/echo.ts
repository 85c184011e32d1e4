import { create, createFileRegistry, type DescMessage, type DescService } from '@bufbuild/protobuf';
import type { GenService } from '@bufbuild/protobuf/codegenv2';
import {
  type EmptySchema,
  FileDescriptorProtoSchema,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  type StringValueSchema,
  file_google_protobuf_descriptor,
  file_google_protobuf_empty,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
} from '@bufbuild/protobuf/wkt';

/**
 * A test-only service covering the four RPC kinds, described in code so the library's tests
 * need no generated contracts. `echo.proto` imports `types.proto`, which imports
 * `google/protobuf/timestamp.proto`: reflection must send that whole chain. `types.proto` also
 * declares an extension (a custom message option) for the extension queries.
 */
export const typesFile = 'understudy/grpc/testing/v1/types.proto';
export const echoFile = 'understudy/grpc/testing/v1/echo.proto';

const typesProto = create(FileDescriptorProtoSchema, {
  name: typesFile,
  package: 'understudy.grpc.testing.v1',
  syntax: 'proto3',
  dependency: ['google/protobuf/timestamp.proto', 'google/protobuf/descriptor.proto'],
  messageType: [
    {
      name: 'Tick',
      field: [
        {
          name: 'at',
          number: 1,
          label: Label.OPTIONAL,
          type: Type.MESSAGE,
          typeName: '.google.protobuf.Timestamp',
          jsonName: 'at',
        },
        { name: 'note', number: 2, label: Label.OPTIONAL, type: Type.STRING, jsonName: 'note' },
      ],
    },
  ],
  extension: [
    {
      name: 'label',
      number: 50001,
      label: Label.OPTIONAL,
      type: Type.STRING,
      extendee: '.google.protobuf.MessageOptions',
      jsonName: 'label',
    },
  ],
  enumType: [
    {
      name: 'Tone',
      value: [
        { name: 'TONE_UNSPECIFIED', number: 0 },
        { name: 'TONE_LOUD', number: 1 },
      ],
    },
  ],
});

const string = '.google.protobuf.StringValue';
const echoProto = create(FileDescriptorProtoSchema, {
  name: echoFile,
  package: 'understudy.grpc.testing.v1',
  syntax: 'proto3',
  dependency: [typesFile, 'google/protobuf/empty.proto', 'google/protobuf/wrappers.proto'],
  service: [
    {
      name: 'Echo',
      method: [
        { name: 'Say', inputType: string, outputType: string },
        { name: 'Repeat', inputType: string, outputType: string, serverStreaming: true },
        { name: 'Join', inputType: string, outputType: string, clientStreaming: true },
        {
          name: 'Chat',
          inputType: string,
          outputType: string,
          clientStreaming: true,
          serverStreaming: true,
        },
        {
          name: 'Last',
          inputType: '.google.protobuf.Empty',
          outputType: '.understudy.grpc.testing.v1.Tick',
        },
      ],
    },
  ],
});

const registry = createFileRegistry(echoProto, (name) => {
  switch (name) {
    case typesFile:
      return typesProto;
    case 'google/protobuf/descriptor.proto':
      return file_google_protobuf_descriptor;
    case 'google/protobuf/empty.proto':
      return file_google_protobuf_empty;
    case 'google/protobuf/timestamp.proto':
      return file_google_protobuf_timestamp;
    case 'google/protobuf/wrappers.proto':
      return file_google_protobuf_wrappers;
    default:
      return undefined;
  }
});

type Str = typeof StringValueSchema;

/** The shape protoc-gen-es would generate for `Echo`. */
export type EchoService = GenService<{
  say: { methodKind: 'unary'; input: Str; output: Str };
  repeat: { methodKind: 'server_streaming'; input: Str; output: Str };
  join: { methodKind: 'client_streaming'; input: Str; output: Str };
  chat: { methodKind: 'bidi_streaming'; input: Str; output: Str };
  last: { methodKind: 'unary'; input: typeof EmptySchema; output: DescMessage };
}>;

const service: DescService | undefined = registry.getService('understudy.grpc.testing.v1.Echo');
if (service === undefined) throw new Error('Echo service missing from its own registry');

export const Echo = service as EchoService;
