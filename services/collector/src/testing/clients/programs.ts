import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire, findPackageJSON } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The client programs in this folder: one agent per instrumentation library, each run as a
 * child process (`node`, or the Python of the venv that python.int.ts builds) so that the
 * library patches a fresh module graph, as it would in a real agent.
 */

const here = fileURLToPath(new URL('.', import.meta.url));
const require = createRequire(import.meta.url);

export type Protocol = 'http/protobuf' | 'http/json' | 'grpc';
export const protocols: readonly Protocol[] = ['http/protobuf', 'http/json', 'grpc'];

/**
 * The scenarios the programs run (see openai-scenarios.mjs and ai-sdk-scenarios.mjs); only the
 * AI SDK programs `embed`.
 */
export type Scenario =
  'chat' | 'tools' | 'stream' | 'json' | 'responses' | 'embed' | 'error' | 'capture-off';

export interface ClientProgram {
  /**
   * The instrumentation's package and version, e.g. `ai@6.0.325`; PyPI packages are prefixed
   * `pypi:`, a configuration other than the library's default is suffixed (`+events`). Names
   * the program's fixtures.
   */
  readonly name: string;
  readonly runtime: 'node' | 'python';
  readonly script: string;
  readonly args: readonly string[];
  /** npm packages the program needs that may be missing from the install. */
  readonly requires: readonly string[];
}

/** The installed version of an npm package (by the name it is installed under). */
function versionOf(installedAs: string): string {
  const path = findPackageJSON(installedAs, import.meta.url);
  if (path === undefined) throw new Error(`${installedAs} is not installed`);
  const manifest = readFileSync(path, 'utf8');
  return (JSON.parse(manifest) as { version: string }).version;
}

function node(
  npmName: string,
  installedAs: string,
  script: string,
  options: { args?: string[]; requires?: string[] } = {},
): ClientProgram {
  return {
    name: `${npmName}@${versionOf(installedAs)}`,
    runtime: 'node',
    script: `${here}${script}`,
    args: options.args ?? [],
    requires: options.requires ?? [],
  };
}

const pythonLock = readFileSync(`${here}python/requirements.lock`, 'utf8');

/**
 * A program of python/agent.py, named after the PyPI package pinned in requirements.lock and
 * the configuration it runs the library in, if not the default.
 */
function python(pypiName: string, library: string, configuration?: string): ClientProgram {
  const pin = new RegExp(`^${pypiName}==(\\S+)$`, 'm').exec(pythonLock);
  if (!pin) throw new Error(`${pypiName} is not pinned in python/requirements.lock`);
  const suffix = configuration === undefined ? '' : `+${configuration}`;
  return {
    name: `pypi:${pypiName}@${String(pin[1])}${suffix}`,
    runtime: 'python',
    script: `${here}python/agent.py`,
    args: [library],
    requires: [],
  };
}

export const programs = {
  otelGenAi: node(
    '@opentelemetry/instrumentation-openai',
    '@opentelemetry/instrumentation-openai',
    'otel-genai.mjs',
  ),
  traceloop: node(
    '@traceloop/instrumentation-openai',
    '@traceloop/instrumentation-openai',
    'traceloop.mjs',
  ),
  traceloopLegacy: node(
    '@traceloop/instrumentation-openai',
    'traceloop-instrumentation-openai-legacy',
    'traceloop.mjs',
    { args: ['legacy'] },
  ),
  openInference: node(
    '@arizeai/openinference-instrumentation-openai',
    '@arizeai/openinference-instrumentation-openai',
    'openinference.mjs',
  ),
  aiSdkV6: node('ai', 'ai', 'ai-sdk-v6.mjs'),
  aiSdkV7: node('ai', 'ai-v7', 'ai-sdk-v7.mjs', { requires: ['@ai-sdk/otel'] }),
  pyOpenAiV2: python('opentelemetry-instrumentation-openai-v2', 'openai-v2'),
  pyOpenInference: python('openinference-instrumentation-openai', 'openinference'),
  pyTraceloop: python('opentelemetry-instrumentation-openai', 'traceloop'),
  pyTraceloopEvents: python('opentelemetry-instrumentation-openai', 'traceloop-events', 'events'),
} satisfies Record<string, ClientProgram>;

/** The Python programs' venv (see python.int.ts): its interpreter, or why there is none. */
export type PythonVenv = { readonly python: string } | { readonly failure: string };

/** Why the program cannot run here (a package it needs is not installed, no venv), or undefined. */
export function unavailable(client: ClientProgram, venv: PythonVenv): string | undefined {
  if (client.runtime === 'python') return 'failure' in venv ? venv.failure : undefined;
  const missing = client.requires.filter((name) => {
    try {
      require.resolve(name, { paths: [here] });
      return false;
    } catch {
      return true;
    }
  });
  return missing.length > 0 ? `not installed: ${missing.join(', ')}` : undefined;
}

export interface RunOptions {
  /** OTLP base URL: `http://host:4318` for HTTP, `http://host:4317` for gRPC. */
  readonly endpoint: string;
  readonly protocol: Protocol;
  readonly apiKey: string;
  readonly fakeOpenAiBaseUrl: string;
  readonly captureContent: boolean;
  /** Runs the Python programs. */
  readonly venv: PythonVenv;
}

/** Trace id of each scenario the program ran, as it reported them. */
export type ScenarioTraces = Partial<Record<Scenario, string>>;

/** Runs the program to its end; rejects with its output when it fails. */
export async function runClient(
  client: ClientProgram,
  options: RunOptions,
): Promise<ScenarioTraces> {
  let command = process.execPath;
  if (client.runtime === 'python') {
    if ('failure' in options.venv) throw new Error(options.venv.failure);
    command = options.venv.python;
  }
  const child = spawn(command, [client.script, ...client.args], {
    env: {
      PATH: process.env['PATH'] ?? '',
      OTEL_EXPORTER_OTLP_ENDPOINT: options.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: options.protocol,
      OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer ${options.apiKey}`,
      FAKE_OPENAI_BASE_URL: options.fakeOpenAiBaseUrl,
      CAPTURE_CONTENT: String(options.captureContent),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  const report = stdout.trim().split('\n').at(-1) ?? '';
  if (code !== 0 || !report.startsWith('{')) {
    // The end of the output holds the reason; the stack traces before it only lengthen reports.
    const output = `${stderr}${stdout}`.slice(-2_000);
    throw new Error(`${client.name} (${options.protocol}) exited ${String(code)}:\n${output}`);
  }
  return (JSON.parse(report) as { traces: ScenarioTraces }).traces;
}
