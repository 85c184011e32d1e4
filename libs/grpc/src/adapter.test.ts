import { create, type Message } from '@bufbuild/protobuf';
import { StringValueSchema, type StringValue } from '@bufbuild/protobuf/wkt';
import {
  Server,
  ServerCredentials,
  credentials,
  makeGenericClientConstructor,
  type ServerUnaryCall,
  type ServiceError,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { Health, HealthCheckRequestSchema, reflectionV1 } from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import { methodPath, rawServiceDefinition, serviceDefinition } from './adapter.js';
import { Echo } from './testing/echo.js';

describe('serviceDefinition', () => {
  it('routes and streams as the descriptors say', () => {
    const health = serviceDefinition(Health);
    expect(Object.keys(health)).toEqual(['check', 'watch']);
    expect(health['check']).toMatchObject({
      path: '/grpc.health.v1.Health/Check',
      originalName: 'Check',
      requestStream: false,
      responseStream: false,
    });
    expect(health['watch']).toMatchObject({ requestStream: false, responseStream: true });

    const reflection = serviceDefinition(reflectionV1.ServerReflection);
    expect(reflection['serverReflectionInfo']).toMatchObject({
      path: '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
      requestStream: true,
      responseStream: true,
    });
    expect(serviceDefinition(Echo)['join']).toMatchObject({
      requestStream: true,
      responseStream: false,
    });
    expect(methodPath(Echo.method.say)).toBe('/understudy.grpc.testing.v1.Echo/Say');
  });

  it('serialises with the generated schemas', () => {
    const check = serviceDefinition(Health)['check'];
    const request = create(HealthCheckRequestSchema, { service: 'a.v1.A' });
    const bytes = check?.requestSerialize(request);
    expect(bytes).toBeInstanceOf(Buffer);
    expect(check?.requestDeserialize(bytes ?? Buffer.alloc(0))).toEqual(request);
  });

  it('leaves the messages of raw methods as bytes, routed like the typed ones', () => {
    const raw = rawServiceDefinition(Echo);
    const typed = serviceDefinition(Echo);
    for (const name of Object.keys(typed)) {
      const { path, originalName, requestStream, responseStream } = typed[name] ?? {};
      expect(raw[name]).toMatchObject({ path, originalName, requestStream, responseStream });
    }
    const say = raw['say'];
    // Not a StringValue at all: nothing is decoded, so nothing can fail.
    const bytes = Buffer.from([0x0a, 0xff, 0xff]);
    expect(say?.requestDeserialize(bytes)).toEqual(bytes);
    const sent = say?.responseSerialize(new Uint8Array([1, 2, 3]));
    expect(sent).toBeInstanceOf(Buffer);
    expect([...(sent ?? [])]).toEqual([1, 2, 3]);
  });

  it('works with plain grpc-js addService and makeGenericClientConstructor', async () => {
    const definition = serviceDefinition(Echo);
    const server = new Server();
    server.addService(definition, {
      say: (call: ServerUnaryCall<StringValue, StringValue>, callback: sendUnaryData<Message>) => {
        callback(null, create(StringValueSchema, { value: `${call.request.value}!` }));
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => {
        if (error) reject(error);
        else resolve(bound);
      });
    });
    const EchoClient = makeGenericClientConstructor(definition, 'Echo');
    const client = new EchoClient(`127.0.0.1:${port}`, credentials.createInsecure());
    const say = (value: string): Promise<StringValue> =>
      new Promise((resolve, reject) => {
        const method = client['say'] as (
          request: StringValue,
          callback: (error: ServiceError | null, response: StringValue) => void,
        ) => void;
        method.call(client, create(StringValueSchema, { value }), (error, response) => {
          if (error) reject(error);
          else resolve(response);
        });
      });
    try {
      expect((await say('hello')).value).toBe('hello!');
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});
