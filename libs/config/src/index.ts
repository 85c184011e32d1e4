export {
  describeConfig,
  loadConfig,
  loadConfigs,
  setting,
  type ConfigOf,
  type ConfigShape,
  type Environment,
  type Setting,
} from './config.js';
export { parseJsonFile } from './json-file.js';
export * as env from './types.js';
export { z } from 'zod';
