import { create } from '@bufbuild/protobuf';
import { StringValueSchema, type StringValue } from '@bufbuild/protobuf/wkt';
import { Global, Inject, Injectable, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthRegistry } from '@understudy/telemetry';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { MessageContext } from '../consumer-runner.js';
import { InProcessDriver } from '../in-process/in-process-driver.js';
import { Messaging } from '../messaging.js';
import { testTopic } from '../testing/helpers.js';
import { MessagingModule } from './messaging.module.js';
import { OnMessage } from './on-message.js';

const calls = testTopic();
const tasks = testTopic();

@Injectable()
class Embedder {
  readonly embedded: string[] = [];
  readonly groups: string[] = [];

  constructor(@Inject(Messaging) private readonly messaging: Messaging) {}

  @OnMessage(calls, { group: 'embedder' })
  async embed(call: StringValue, context: MessageContext): Promise<void> {
    this.embedded.push(call.value);
    this.groups.push(context.group);
    await this.messaging.publish(
      tasks,
      create(StringValueSchema, { value: `task-of:${call.value}` }),
    );
  }

  @OnMessage(tasks, { group: 'embedder' })
  @OnMessage(tasks, { group: 'auditor' })
  noteTask(task: StringValue, context: MessageContext): void {
    this.groups.push(`${context.group}:${task.value}`);
  }

  notAHandler(): string {
    return 'ignored';
  }
}

@Module({ providers: [Embedder] })
class EmbedderModule {}

const settings = Symbol('settings');

@Module({
  providers: [{ provide: settings, useValue: { name: 'nest-test' } }],
  exports: [settings],
})
class SettingsModule {}

describe('MessagingModule', () => {
  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  it('discovers @OnMessage handlers at boot and stops consumers and producer at close', async () => {
    const driver = new InProcessDriver();

    @Module({
      imports: [
        MessagingModule.forRootAsync({
          imports: [SettingsModule],
          inject: [settings],
          useFactory: (config: { name: string }) => ({ driver, producerName: config.name }),
        }),
        EmbedderModule,
      ],
    })
    class AppModule {}

    const app = await NestFactory.createApplicationContext(AppModule);
    const messaging = app.get(Messaging);
    const embedder = app.get(Embedder);
    expect(messaging.health()).toMatchObject({
      healthy: true,
      consumers: [
        { group: 'embedder', topics: [calls.name, tasks.name], connected: true },
        { group: 'auditor', topics: [tasks.name], connected: true },
      ],
    });

    await messaging.publish(calls, create(StringValueSchema, { value: 'c1' }));
    await vi.waitFor(() => {
      expect([...embedder.groups].sort()).toEqual([
        'auditor:task-of:c1',
        'embedder',
        'embedder:task-of:c1',
      ]);
    });
    expect(embedder.embedded).toEqual(['c1']);

    await app.close();
    expect(messaging.health()).toMatchObject({
      healthy: false,
      producer: { connected: false },
      consumers: [],
    });
  });

  it('works with static options', async () => {
    const driver = new InProcessDriver();

    @Module({
      imports: [MessagingModule.forRoot({ driver, producerName: 'static', topics: [calls] })],
    })
    class AppModule {}

    const app = await NestFactory.createApplicationContext(AppModule);
    await app.get(Messaging).publish(calls, create(StringValueSchema, { value: 'x' }));
    await app.close();
  });

  it('makes readiness follow the bus when the application has a HealthRegistry', async () => {
    const health = new HealthRegistry();

    @Global()
    @Module({
      providers: [{ provide: HealthRegistry, useValue: health }],
      exports: [HealthRegistry],
    })
    class HealthModule {}

    @Module({
      imports: [
        HealthModule,
        MessagingModule.forRoot({ driver: new InProcessDriver(), producerName: 'ready' }),
      ],
    })
    class AppModule {}

    const app = await NestFactory.createApplicationContext(AppModule);
    expect(await health.readiness()).toMatchObject({
      ready: true,
      checks: { kafka: { healthy: true } },
    });
    await app.close();
    expect((await health.readiness()).checks).toEqual({});
  });
});
