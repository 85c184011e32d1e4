import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { isSecretName } from './redact.js';

type Line = Record<string, unknown>;

function capture(): { lines: Line[]; logger: ReturnType<typeof createLogger> } {
  const lines: Line[] = [];
  const logger = createLogger('catalog', {
    level: 'debug',
    destination: { write: (line: string) => lines.push(JSON.parse(line) as Line) },
  });
  return { lines, logger };
}

describe('createLogger', () => {
  const contextManager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(contextManager.enable());
  });
  afterAll(() => {
    context.disable();
  });

  it('writes one JSON object per line with level label, service, time and message', () => {
    const { lines, logger } = capture();
    logger.info({ topic: 'calls' }, 'consumer started');
    expect(lines).toEqual([
      {
        level: 'info',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown,
        service: 'catalog',
        topic: 'calls',
        message: 'consumer started',
      },
    ]);
  });

  it('adds trace and span ids inside an active span only', () => {
    const { lines, logger } = capture();
    const spanContext = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
    };
    const active = trace.setSpan(context.active(), trace.wrapSpanContext(spanContext));
    context.with(active, () => {
      logger.info({}, 'inside');
    });
    logger.info({}, 'outside');
    expect(lines[0]).toMatchObject({ trace_id: spanContext.traceId, span_id: spanContext.spanId });
    expect(lines[1]).not.toHaveProperty('trace_id');
  });

  it('censors secrets by field name at any depth without touching the logged object', () => {
    const { lines, logger } = capture();
    const config = {
      kafka: { brokers: ['k:9092'], sasl: { username: 'svc', password: 'p4ss' } },
      s3: { accessKey: 'AKIA', secretKey: 'shh', bucket: 'models' },
      deep: { a: { b: { c: { hfToken: 'hf_x', 'x-api-key': 'k', webhook_secret: 's' } } } },
      headers: [{ authorization: 'Bearer t' }, { cookie: 'sid=1' }],
      database: { url: 'postgres://app:hunter2@db:5432/understudy' },
      object: { key: 'datasets/a.jsonl' },
      secret: true,
      inputTokens: 12,
    };
    logger.info({ config }, 'boot');

    expect(lines[0]?.['config']).toEqual({
      kafka: { brokers: ['k:9092'], sasl: { username: 'svc', password: '[redacted]' } },
      s3: { accessKey: '[redacted]', secretKey: '[redacted]', bucket: 'models' },
      deep: {
        a: {
          b: {
            c: { hfToken: '[redacted]', 'x-api-key': '[redacted]', webhook_secret: '[redacted]' },
          },
        },
      },
      headers: [{ authorization: '[redacted]' }, { cookie: '[redacted]' }],
      database: { url: 'postgres://app:[redacted]@db:5432/understudy' },
      object: { key: 'datasets/a.jsonl' },
      secret: true,
      inputTokens: 12,
    });
    expect(config.kafka.sasl.password).toBe('p4ss');
    expect(JSON.stringify(lines)).not.toMatch(/p4ss|AKIA|shh|hf_x|hunter2|Bearer/);
  });

  it('censors child bindings and serialises errors with their code', () => {
    const { lines, logger } = capture();
    const child = logger.child({ component: 'storage', token: 't0k3n' });
    const error = new UnderstudyError(ErrorCode.Unavailable, 'bucket unreachable');
    child.error({ err: error }, 'upload failed');
    expect(lines[0]).toMatchObject({
      component: 'storage',
      token: '[redacted]',
      message: 'upload failed',
      err: { type: 'UnderstudyError', message: 'bucket unreachable', code: 'UNAVAILABLE' },
    });
    expect(lines[0]?.['err']).toHaveProperty('stack');
  });

  it('survives cyclic objects', () => {
    const { lines, logger } = capture();
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic['self'] = cyclic;
    logger.info({ cyclic }, 'cycle');
    expect(lines[0]?.['message']).toBe('cycle');
  });
});

describe('isSecretName', () => {
  it.each([
    'password',
    'DB_PASSWORD',
    'apiKey',
    'x-api-key',
    'clientSecret',
    'refresh_token',
    'privateKey',
    'Set-Cookie',
  ])('treats %s as secret', (name) => {
    expect(isSecretName(name)).toBe(true);
  });

  it.each(['key', 'bucket', 'inputTokens', 'tokenizer', 'secretName', 'username'])(
    'keeps %s',
    (name) => {
      expect(isSecretName(name)).toBe(false);
    },
  );
});
