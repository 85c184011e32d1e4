import { collectorClientsEnv, pythonEnv } from '@understudy/testbed';
import type { PythonVenv } from './programs.js';

/**
 * The Python programs' venv, built from python/requirements.lock on first use (about 30 MB from
 * PyPI, once per lock) and cached by the test bed; without Python or PyPI, why not, so that the
 * tests skip the Python programs saying so.
 */
export async function clientsPython(): Promise<PythonVenv> {
  try {
    const { python } = await pythonEnv(collectorClientsEnv);
    return { python };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { failure: `no Python venv could be built: ${message.slice(-500)}` };
  }
}
