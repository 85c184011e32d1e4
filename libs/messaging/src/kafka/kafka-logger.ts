import { logLevel, type logCreator } from 'kafkajs';
import type { Logger } from '@understudy/telemetry';

/**
 * Routes kafkajs' own log lines into the service logger. kafkajs logs group joins and restarts
 * at INFO; they become debug lines so a healthy service logs little.
 */
export function kafkaLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      // The service logger stamps its own time.
      const fields = Object.entries(log).filter(
        ([name]) => name !== 'message' && name !== 'timestamp',
      );
      const entry = { ...Object.fromEntries(fields), namespace: `kafkajs.${namespace}` };
      const message = log.message;
      switch (level) {
        case logLevel.ERROR:
          logger.error(entry, message);
          break;
        case logLevel.WARN:
          logger.warn(entry, message);
          break;
        case logLevel.INFO:
        case logLevel.DEBUG:
        case logLevel.NOTHING:
          logger.debug(entry, message);
          break;
      }
    };
}
