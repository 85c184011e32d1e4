import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { JsonValue } from '@bufbuild/protobuf';
import type { otlpLogsService, otlpTraceService } from '@understudy/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../fake-openai.js';
import { programs, runClient, unavailable, type ClientProgram } from './programs.js';
import { clientsPython } from './python.int.js';
import {
  logsFromOtlpJson,
  logsToOtlpJson,
  startRecorder,
  tracesFromOtlpJson,
  tracesToOtlpJson,
} from './recorder.js';

/**
 * The fixtures in ../fixtures are what each installed instrumentation library really sends.
 * This test runs every client program against a recording receiver and checks that the
 * library still sends the same spans, attributes and events as its fixture (values such as ids
 * and times differ from run to run). `UNDERSTUDY_RECORD_FIXTURES=all` writes every fixture
 * anew, e.g. after library upgrades; `UNDERSTUDY_RECORD_FIXTURES=<part of a library name>` only
 * those of the matching libraries.
 */

const record = process.env['UNDERSTUDY_RECORD_FIXTURES'] ?? '';
const recording = (client: ClientProgram) =>
  record === 'all' || (record !== '' && client.name.includes(record));
const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
/**
 * Two runs of a program, each starting its runtime and libraries (Python's take seconds), on a
 * machine that other tests share.
 */
const programTimeoutMs = 60_000;

/** `@scope/name@1.2.3` → `scope-name@1.2.3`, `pypi:name@1.2` → `pypi-name@1.2`: flat names. */
function fixtureName(client: ClientProgram): string {
  return client.name.replace(/^@/, '').replace(/[/:]/g, '-');
}

/**
 * What a library's export is made of, without its values: for each span its scope, name, kind,
 * attribute names and event names; for each log record its scope, event name and attribute
 * names. Sorted, so that batching does not matter.
 */
function shape(
  traces: otlpTraceService.ExportTraceServiceRequest,
  logs: otlpLogsService.ExportLogsServiceRequest,
): string[] {
  const names = (attributes: readonly { key: string }[]) =>
    attributes
      .map(({ key }) => key)
      .sort()
      .join(',');
  const spans = traces.resourceSpans.flatMap(({ scopeSpans }) =>
    scopeSpans.flatMap(({ scope, spans: list }) =>
      list.map((span) =>
        [
          `span ${scope?.name ?? ''}`,
          span.name,
          `kind=${span.kind}`,
          names(span.attributes),
          `events=${span.events.map(({ name }) => name).join(',')}`,
        ].join(' | '),
      ),
    ),
  );
  const records = logs.resourceLogs.flatMap(({ scopeLogs }) =>
    scopeLogs.flatMap(({ scope, logRecords }) =>
      logRecords.map((record) =>
        [`log ${scope?.name ?? ''}`, record.eventName, names(record.attributes)].join(' | '),
      ),
    ),
  );
  return [...spans, ...records].sort();
}

function readJson(path: string): JsonValue {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as JsonValue) : {};
}

function writeJson(path: string, value: JsonValue): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

const venv = await clientsPython();

describe.concurrent('instrumentation fixtures', () => {
  let fake: FakeOpenAi;

  beforeAll(async () => {
    fake = await startFakeOpenAi();
  });

  afterAll(async () => {
    await fake.close();
  });

  for (const client of Object.values(programs)) {
    const reason = unavailable(client, venv);
    if (reason !== undefined) console.warn(`skipping ${client.name}: ${reason}`);
    const title = `${client.name} still sends what its fixture holds`;
    it.skipIf(reason !== undefined)(
      title,
      async () => {
        const recorder = await startRecorder();
        try {
          const run = (captureContent: boolean) =>
            runClient(client, {
              endpoint: recorder.endpoint,
              protocol: 'http/protobuf',
              apiKey: 'fixture-key',
              fakeOpenAiBaseUrl: fake.baseUrl,
              captureContent,
              venv,
            });
          const scenarios = { ...(await run(true)), ...(await run(false)) };
          const base = `${fixtures}${fixtureName(client)}`;
          if (recording(client)) {
            writeJson(`${base}.traces.json`, tracesToOtlpJson(recorder.traces()));
            if (recorder.logs().resourceLogs.length > 0) {
              writeJson(`${base}.logs.json`, logsToOtlpJson(recorder.logs()));
            }
            writeJson(`${base}.scenarios.json`, scenarios);
          }
          const recorded = readJson(`${base}.scenarios.json`) as Record<string, string>;
          expect(Object.keys(scenarios)).toEqual(Object.keys(recorded));
          expect(shape(recorder.traces(), recorder.logs())).toEqual(
            shape(
              tracesFromOtlpJson(readJson(`${base}.traces.json`)),
              logsFromOtlpJson(readJson(`${base}.logs.json`)),
            ),
          );
        } finally {
          await recorder.close();
        }
      },
      programTimeoutMs,
    );
  }
});
