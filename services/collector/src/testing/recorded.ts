import { readFileSync } from 'node:fs';
import { create } from '@bufbuild/protobuf';
import {
  ContentEventFragmentSchema,
  LlmCallSchema,
  type ContentEventFragment,
  type LlmCall,
} from '@understudy/contracts';
import { expect } from 'vitest';
import { sourceLogRecords, sourceSpans } from '../domain/fragments.js';
import { logMappers, spanMappers } from '../domain/mappers/index.js';
import type {
  MapContext,
  MappedCall,
  MappedStep,
  SourceSpan,
  SpanMapper,
} from '../domain/mappers/mapper.js';
import { decodeLogsRequest, decodeTraceRequest } from '../domain/otlp-codec.js';
import type { Scenario } from './clients/programs.js';

/**
 * What the mappers make of the fixtures recorded from the real libraries (./fixtures, scenarios
 * described in its README): one trace per scenario, every span and log record of it mapped as
 * the collector maps them, in the collector's precedence order.
 */

export type { Scenario };

export interface RecordedCall {
  readonly mapper: SpanMapper;
  readonly mapped: MappedCall;
  readonly call: LlmCall;
}

export interface RecordedTrace {
  /** The scenario's spans, in the order they started. */
  readonly spans: SourceSpan[];
  /** The call spans, in the order they started. */
  readonly calls: RecordedCall[];
  /** What each other span says, by span name. */
  readonly steps: Record<string, MappedStep | undefined>;
  /** The content events, in the order they were recorded. */
  readonly events: ContentEventFragment[];
}

const fixtures = new URL('./fixtures/', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, fixtures));
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

const context: MapContext = {
  blob: () => {
    throw new Error('the recorded scenarios send no media');
  },
};

/** A library's recording (`<name>.traces.json`, and `.logs.json` with `logs`), by scenario. */
export function recordedFixture(name: string, { logs = false } = {}) {
  const scenarios = JSON.parse(read(`${name}.scenarios.json`).toString()) as Record<
    Scenario,
    string
  >;
  const traces = decodeTraceRequest(read(`${name}.traces.json`), 'json');
  const logRecords = logs ? decodeLogsRequest(read(`${name}.logs.json`), 'json') : undefined;
  return (scenario: Scenario): RecordedTrace => {
    const traceId = scenarios[scenario];
    const spans = [...sourceSpans(traces)].filter(({ span }) => hex(span.traceId) === traceId);
    spans.sort((a, b) => Number(a.span.startTimeUnixNano - b.span.startTimeUnixNano));
    const calls: RecordedCall[] = [];
    const steps: Record<string, MappedStep | undefined> = {};
    for (const source of spans) {
      const mapper = spanMappers.find((candidate) => candidate.recognises(source));
      if (mapper === undefined) {
        const answer = spanMappers.map((candidate) => candidate.step?.(source));
        steps[source.span.name] = answer.find((step) => step !== undefined);
        continue;
      }
      const mapped = mapper.map(source, context);
      const call = create(LlmCallSchema, { ...mapped.call, context: mapped.context });
      calls.push({ mapper, mapped, call });
    }
    const events = logRecords
      ? [...sourceLogRecords(logRecords)]
          .filter(({ record }) => hex(record.traceId) === traceId)
          .flatMap((source) => {
            const mapper = logMappers.find((candidate) => candidate.recognises(source));
            return mapper ? [create(ContentEventFragmentSchema, mapper.map(source, context))] : [];
          })
      : [];
    return { spans, calls, steps, events };
  };
}

export function only<T>(items: readonly T[]): T {
  expect(items).toHaveLength(1);
  return items[0] as T;
}
