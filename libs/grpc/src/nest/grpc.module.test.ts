import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { createClient } from '../client.js';
import { GrpcServer } from '../server.js';
import type { ServiceImpl } from '../service-impl.js';
import { Echo, type EchoService } from '../testing/echo.js';
import { echoImpl } from '../testing/harness.js';
import { GrpcModule, GrpcService } from './grpc.module.js';

@Injectable()
class Greeting {
  readonly prefix = 'hello';
}

@GrpcService(Echo)
@Injectable()
class EchoHandler implements ServiceImpl<EchoService> {
  constructor(private readonly greeting: Greeting) {}

  say(request: { value: string }) {
    // Uses `this`: the module must register bound methods.
    return { value: `${this.greeting.prefix} ${request.value}` };
  }

  readonly repeat = echoImpl.repeat;
  readonly join = echoImpl.join;
  readonly chat = echoImpl.chat;
  readonly last = echoImpl.last;
}

@Injectable()
class IncompleteHandler {}

describe('GrpcModule', () => {
  it('serves discovered services after bootstrap and stops on close', async () => {
    @Module({
      imports: [GrpcModule.forRootAsync({ useFactory: () => ({ host: '127.0.0.1', port: 0 }) })],
      providers: [Greeting, EchoHandler],
    })
    class App {}
    const app = await NestFactory.createApplicationContext(App, { logger: false });
    const server = app.get(GrpcServer);
    const client = createClient(Echo, `127.0.0.1:${String(server.port)}`);
    try {
      expect(await client.say({ value: 'world' })).toMatchObject({ value: 'hello world' });
    } finally {
      client.close();
      await app.close();
    }
    await expect(
      createClient(Echo, `127.0.0.1:${String(server.port)}`, { timeoutMs: 500 }).say({
        value: 'x',
      }),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('refuses to boot when a provider misses an RPC of its service', async () => {
    GrpcService(Echo)(IncompleteHandler);
    @Module({
      imports: [GrpcModule.forRootAsync({ useFactory: () => ({ host: '127.0.0.1', port: 0 }) })],
      providers: [IncompleteHandler],
    })
    class App {}
    await expect(NestFactory.createApplicationContext(App, { logger: false })).rejects.toThrow(
      /IncompleteHandler does not implement understudy\.grpc\.testing\.v1\.Echo\.say/,
    );
  });
});
