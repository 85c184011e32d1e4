/**
 * `@understudy/model-registry/testing`: the registry for other packages' integration tests, on
 * the test bed's brokers and database with authentication on, and its principals files.
 */
export { testToken, writePrincipalsFile, type TestPrincipal } from './principals.js';
export { startRegistry, type RegistryOptions, type TestRegistry } from './start.js';
