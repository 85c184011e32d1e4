export {
  createRedactor,
  redactorName,
  type DetectedEntity,
  type RedactionReportInit,
  type RedactionSession,
  type Redactor,
  type RedactorOptions,
} from './redactor.js';
export { builtInEntities } from './detectors.js';
export {
  parseRedactionRules,
  type AllowEntry,
  type CustomPattern,
  type RedactionRules,
} from './rules.js';
export { redactCall, redactContent, redactStep } from './walkers.js';
