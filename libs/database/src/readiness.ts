import type { CheckResult, ReadinessCheck } from '@understudy/telemetry';
import type { DataSource } from 'typeorm';
import { mapDatabaseError } from './errors.js';

export interface ReadinessOptions {
  /** How long `SELECT 1` may take, waiting for a pooled connection included. Default 2 s. */
  readonly timeoutMs?: number;
}

/**
 * A readiness check for the telemetry HealthRegistry: healthy when PostgreSQL answers `SELECT 1`
 * through the pool before the timeout or the registry's signal, whichever comes first. It stops
 * waiting then, so an exhausted pool or a black-holed server cannot stall the probe.
 */
export function readinessCheck(
  dataSource: DataSource,
  options: ReadinessOptions = {},
): ReadinessCheck {
  const timeoutMs = options.timeoutMs ?? 2_000;
  return async (signal: AbortSignal): Promise<CheckResult> => {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
    const expired = new Promise<never>((_, reject) => {
      deadline.throwIfAborted();
      deadline.addEventListener('abort', () => {
        reject(new Error('deadline passed'));
      });
    });
    try {
      await Promise.race([dataSource.query('SELECT 1'), expired]);
      return { healthy: true };
    } catch (error) {
      return {
        healthy: false,
        detail: deadline.aborted
          ? `database did not answer within ${timeoutMs} ms`
          : mapDatabaseError(error).message,
      };
    }
  };
}
