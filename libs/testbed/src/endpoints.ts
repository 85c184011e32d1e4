// Brings Vitest's types into every program that uses this package, so the augmentation below
// always finds the module it augments (also in the build, where no test imports Vitest).
import type {} from 'vitest';

/** Where the shared servers listen; plain data, so Vitest can hand it from globalSetup to tests. */
export interface KafkaEndpoint {
  brokers: string[];
}

export interface S3Endpoint {
  endPoint: string;
  port: number;
  useSSL: false;
  accessKey: string;
  secretKey: string;
  region: string;
}

export interface PostgresEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface TestbedEndpoints {
  kafka: KafkaEndpoint;
  s3: S3Endpoint;
  postgres: PostgresEndpoint;
}

// Types `inject('testbed')` in every test program that imports anything from this package.
declare module 'vitest' {
  interface ProvidedContext {
    testbed: TestbedEndpoints;
  }
}
