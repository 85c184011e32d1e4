import {
  fromBinary,
  toBinary,
  type DescMethod,
  type DescService,
  type Message,
} from '@bufbuild/protobuf';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

/** The HTTP/2 path of an RPC, as every gRPC implementation routes it. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/**
 * One grpc-js method definition from a protobuf-es descriptor: the generated schemas do the
 * (de)serialisation, so no .proto file is loaded at run time and the types cannot drift.
 */
export function methodDefinition(method: DescMethod): MethodDefinition<Message, Message> {
  return {
    ...routing(method),
    requestSerialize: (message) => asBuffer(toBinary(method.input, message)),
    requestDeserialize: (bytes) => fromBinary(method.input, bytes),
    responseSerialize: (message) => asBuffer(toBinary(method.output, message)),
    responseDeserialize: (bytes) => fromBinary(method.output, bytes),
  };
}

/**
 * A grpc-js service definition keyed by each method's `localName`, the key protobuf-es uses, so
 * it works with `server.addService` and `makeGenericClientConstructor` alike.
 */
export function serviceDefinition(service: DescService): ServiceDefinition {
  return Object.fromEntries(service.methods.map((m) => [m.localName, methodDefinition(m)]));
}

/**
 * The same method with the messages left as the bytes on the wire: a server decodes requests
 * itself (after authenticating the caller, say), a client sends bytes of its choosing.
 */
export function rawMethodDefinition(method: DescMethod): MethodDefinition<Uint8Array, Uint8Array> {
  return {
    ...routing(method),
    requestSerialize: asBuffer,
    requestDeserialize: asBuffer,
    responseSerialize: asBuffer,
    responseDeserialize: asBuffer,
  };
}

/** `serviceDefinition` with every method raw. */
export function rawServiceDefinition(service: DescService): ServiceDefinition {
  return Object.fromEntries(service.methods.map((m) => [m.localName, rawMethodDefinition(m)]));
}

/** Where grpc-js routes a method and which sides stream. */
function routing(method: DescMethod) {
  return {
    path: methodPath(method),
    originalName: method.name,
    requestStream:
      method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
    responseStream:
      method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
  };
}

/** grpc-js wants Buffers; wrap the bytes instead of copying them. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
