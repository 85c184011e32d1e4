import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { describeConfig, env, loadConfig, loadConfigs, setting } from './index.js';

const shape = {
  http: { port: setting('HTTP_PORT', env.port().default(8080)) },
  kafka: {
    brokers: setting('KAFKA_BROKERS', env.list()),
    secure: setting('KAFKA_SSL', env.boolean().default(false)),
  },
  s3: { secretKey: setting('S3_SECRET_KEY', env.text(), { secret: true }) },
  mode: setting('MODE', env.oneOf(['embedded', 'cluster']).default('embedded')),
};

describe('loadConfig', () => {
  it('parses, types and freezes', () => {
    const config = loadConfig(shape, {
      KAFKA_BROKERS: 'a:9092, b:9092,',
      KAFKA_SSL: 'yes',
      S3_SECRET_KEY: 'shh',
    });
    expect(config).toEqual({
      http: { port: 8080 },
      kafka: { brokers: ['a:9092', 'b:9092'], secure: true },
      s3: { secretKey: 'shh' },
      mode: 'embedded',
    });
    expect(Object.isFrozen(config.kafka)).toBe(true);
    expect(Object.isFrozen(config.kafka.brokers)).toBe(true);
  });

  it('names every bad or missing variable in one error, never a secret value', () => {
    const attempt = () =>
      loadConfig(shape, { HTTP_PORT: '70000', MODE: 'cloud', S3_SECRET_KEY: '' });
    expect(attempt).toThrow(UnderstudyError);
    try {
      attempt();
    } catch (error) {
      const e = error as UnderstudyError;
      expect(e.code).toBe(ErrorCode.InvalidArgument);
      expect(e.message).toContain('HTTP_PORT ("70000")');
      expect(e.message).toContain('KAFKA_BROKERS (missing)');
      expect(e.message).toContain('S3_SECRET_KEY (missing)');
      expect(e.message).toContain('MODE ("cloud")');
      expect(e.details['variables']).toEqual([
        'HTTP_PORT',
        'KAFKA_BROKERS',
        'S3_SECRET_KEY',
        'MODE',
      ]);
    }
  });

  it('does not echo an invalid secret', () => {
    const secretShape = { token: setting('TOKEN', env.text().min(10), { secret: true }) };
    expect(() => loadConfig(secretShape, { TOKEN: 'leak' })).toThrow(/TOKEN \(invalid\)/);
    expect(() => loadConfig(secretShape, { TOKEN: 'leak' })).not.toThrow(/leak/);
  });

  it('masks secrets when describing the effective config', () => {
    const config = loadConfig(shape, { KAFKA_BROKERS: 'k:1', S3_SECRET_KEY: 'shh' });
    expect(describeConfig(shape, config)).toEqual({
      http: { port: 8080 },
      kafka: { brokers: ['k:1'], secure: false },
      s3: { secretKey: '***' },
      mode: 'embedded',
    });
  });
});

describe('loadConfigs', () => {
  const shared = { port: setting('OPS_PORT', env.port().default(9464)) };
  const own = { brokers: setting('KAFKA_BROKERS', env.list()) };

  it('returns one frozen config per shape', () => {
    const [a, b] = loadConfigs([shared, own], { KAFKA_BROKERS: 'k:1' });
    expect(a).toEqual({ port: 9464 });
    expect(b).toEqual({ brokers: ['k:1'] });
    expect(Object.isFrozen(b.brokers)).toBe(true);
  });

  it('reports the problems of every shape in one error', () => {
    expect(() => loadConfigs([shared, own], { OPS_PORT: 'x' })).toThrow(
      /OPS_PORT \("x"\)[\s\S]*KAFKA_BROKERS \(missing\)/,
    );
  });
});

describe('env.jsonObject', () => {
  const shape = { extra: setting('EXTRA', env.jsonObject().default({})) };

  it('parses a JSON object and defaults when unset', () => {
    expect(loadConfig(shape, { EXTRA: '{"epochs": 2, "modules": ["q"]}' })).toEqual({
      extra: { epochs: 2, modules: ['q'] },
    });
    expect(loadConfig(shape, {})).toEqual({ extra: {} });
  });

  it('names malformed JSON and JSON that is not an object', () => {
    expect(() => loadConfig(shape, { EXTRA: '{epochs' })).toThrow(/EXTRA[\s\S]*not valid JSON/);
    expect(() => loadConfig(shape, { EXTRA: '[1]' })).toThrow(/EXTRA/);
  });
});
