import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DescService } from '@bufbuild/protobuf';
import { ModelRegistryService } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { grpcurl } from '@understudy/testbed';
import type { GrpcServer } from './server.js';
import type { ServiceImpl } from './service-impl.js';
import { Echo } from './testing/echo.js';
import { echoImpl, startServer } from './testing/harness.js';

/** Every method answers UNIMPLEMENTED: enough to be listed, described and called. */
function unimplemented<S extends DescService>(service: S): ServiceImpl<S> {
  const fail = (): never => {
    throw new UnderstudyError(ErrorCode.Unimplemented, 'not in this test');
  };
  return Object.fromEntries(
    service.methods.map((m) => [m.localName, fail]),
  ) as unknown as ServiceImpl<S>;
}

let server: GrpcServer;
let target: string;

beforeAll(async () => {
  const started = await startServer((s) => {
    s.register(Echo, echoImpl);
    s.register(ModelRegistryService, unimplemented(ModelRegistryService));
  });
  server = started.server;
  target = started.address;
});

afterAll(async () => {
  await server.shutdown();
});

/** Runs `grpcurl -plaintext <flags> <server> <command…>`; its output, which must be a success. */
async function grpcurlAt(flags: string[], ...command: string[]): Promise<string> {
  const result = await grpcurl(target, flags, ...command);
  expect(result, result.stderr).toMatchObject({ exitCode: 0 });
  return result.stdout;
}

describe('grpcurl against GrpcServer, without .proto files', () => {
  it('lists the services through reflection', async () => {
    const services = (await grpcurlAt([], 'list')).trim().split('\n');
    expect(services).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'understudy.grpc.testing.v1.Echo',
      'understudy.v1.ModelRegistryService',
    ]);
  });

  it('describes the health service', async () => {
    const description = await grpcurlAt([], 'describe', 'grpc.health.v1.Health');
    expect(description).toContain('grpc.health.v1.Health is a service:');
    expect(description).toContain(
      'rpc Check ( .grpc.health.v1.HealthCheckRequest ) returns ( .grpc.health.v1.HealthCheckResponse );',
    );
    expect(description).toContain(
      'rpc Watch ( .grpc.health.v1.HealthCheckRequest ) returns ( stream .grpc.health.v1.HealthCheckResponse );',
    );
  });

  it('calls Health/Check and reads SERVING', async () => {
    const output = await grpcurlAt(['-d', '{"service":""}'], 'grpc.health.v1.Health/Check');
    expect(JSON.parse(output)).toEqual({ status: 'SERVING' });
  });

  it('describes a message through a transitive import', async () => {
    const description = await grpcurlAt([], 'describe', 'understudy.grpc.testing.v1.Tick');
    expect(description).toContain('.google.protobuf.Timestamp at = 1;');
  });

  it('calls a unary RPC and sees a mapped error status', async () => {
    const output = await grpcurlAt(['-d', '"hello"'], 'understudy.grpc.testing.v1.Echo/Say');
    expect(JSON.parse(output)).toBe('hello');

    const failure = await grpcurl(
      target,
      ['-d', '{"service":"no.such.Service"}'],
      'grpc.health.v1.Health/Check',
    );
    expect(failure.exitCode).toBe(64 + 5);
    expect(failure.stderr).toContain('Code: NotFound');
  });

  it('describes and calls a generated Understudy contract', async () => {
    const service = await grpcurlAt([], 'describe', 'understudy.v1.ModelRegistryService');
    expect(service).toContain('rpc WatchRoutingTable ( .understudy.v1.WatchRoutingTableRequest )');
    const message = await grpcurlAt([], 'describe', 'understudy.v1.ModelVersion');
    expect(message).toContain('understudy.v1.ModelVersion is a message:');

    const failure = await grpcurl(
      target,
      ['-d', '{"tenantId":"t-1","modelVersionId":"mv-1"}'],
      'understudy.v1.ModelRegistryService/GetModelVersion',
    );
    expect(failure.exitCode).toBe(64 + 12);
    expect(failure.stderr).toContain('Code: Unimplemented');
  });
});
