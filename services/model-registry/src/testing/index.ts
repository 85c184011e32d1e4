/**
 * `@understudy/model-registry/testing`: the registry for other packages' integration tests, on
 * the test bed's brokers and database with authentication on, its principals files, and the
 * tasks, datasets and model versions to fill it with.
 */
export {
  announceTasks,
  collect,
  createdDataset,
  datasetOf,
  measuredTask,
  modelVersionOf,
  registeredOn,
  registeredVersion,
  type TaskFigures,
} from './fixtures.js';
export { testToken, writePrincipalsFile, type TestPrincipal } from './principals.js';
export { startRegistry, type RegistryOptions, type TestRegistry } from './start.js';
