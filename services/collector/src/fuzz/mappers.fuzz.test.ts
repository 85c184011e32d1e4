import { createHash } from 'node:crypto';
import { create, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import {
  CaptureFragmentSchema,
  ContentEventFragmentSchema,
  LlmCallSchema,
  otlpLogsService,
  otlpTrace,
  otlpTraceService,
  SourceFormat,
  StepFragmentSchema,
} from '@understudy/contracts';
import { describe, expect, it } from 'vitest';
import {
  logFragments,
  sourceLogRecords,
  sourceSpans,
  traceFragments,
} from '../domain/fragments.js';
import { contentGuard } from '../domain/guard.js';
import { logMappers, spanMappers, type MapContext } from '../domain/mappers/index.js';
import { createRedactor } from '../domain/redaction/index.js';
import {
  attributeLists,
  cloneExport,
  isSpan,
  mutateExport,
  recorded,
  records,
  vocabulary,
  type Exported,
} from './exports.js';
import { Failures } from './harness.js';
import { mutateAttributes, randomAnyValue, type AttributeLimits } from './mutate.js';
import { caseLabel, caseRandom, fuzzRuns, fuzzTimeoutMs, type Random } from './random.js';

/**
 * Every mapper, and the fragment builder over all of them, fed the recorded spans and log
 * records with their attributes broken: values of the wrong type, JSON strings cut short or
 * nested thousands deep, huge values, thousands of attributes, keys of other formats. None may
 * throw (the export would be answered 500 and lost), and what they make must encode.
 */

const hugeBytes = 64 * 1024;

/** An export holding one record of a recorded one, in its resource and scope. */
interface Seed {
  readonly name: string;
  readonly exported: Exported;
}

function singleRecordExports({ name, exported }: (typeof recorded)[number]): Seed[] {
  if (exported.signal === 'traces') {
    return exported.request.resourceSpans.flatMap((resource) =>
      resource.scopeSpans.flatMap((scope) =>
        scope.spans.map((span) => ({
          name: `${name} span "${span.name}"`,
          exported: {
            signal: 'traces' as const,
            request: create(otlpTraceService.ExportTraceServiceRequestSchema, {
              resourceSpans: [{ ...resource, scopeSpans: [{ ...scope, spans: [span] }] }],
            }),
          },
        })),
      ),
    );
  }
  return exported.request.resourceLogs.flatMap((resource) =>
    resource.scopeLogs.flatMap((scope) =>
      scope.logRecords.map((record, index) => ({
        name: `${name} log record ${index}`,
        exported: {
          signal: 'logs' as const,
          request: create(otlpLogsService.ExportLogsServiceRequestSchema, {
            resourceLogs: [{ ...resource, scopeLogs: [{ ...scope, logRecords: [record] }] }],
          }),
        },
      })),
    ),
  );
}

const seeds = recorded.flatMap(singleRecordExports);
const spanSeeds = seeds.filter(({ exported }) => exported.signal === 'traces');
const logSeeds = seeds.filter(({ exported }) => exported.signal === 'logs');
const sourceOf = ({ exported }: Seed) =>
  exported.signal === 'traces'
    ? { span: [...sourceSpans(exported.request)][0]! }
    : { log: [...sourceLogRecords(exported.request)][0]! };

const eventNames = [
  ...new Set(
    recorded.flatMap(({ exported }) =>
      records(exported).flatMap((record) =>
        'events' in record ? record.events.map((event) => event.name) : [record.eventName],
      ),
    ),
  ),
].filter((name) => name !== '');

/** The keys a format's recorded records carry: its own vocabulary. */
function keysOf(format: readonly Seed[]): string[] {
  return [
    ...new Set(
      format.flatMap(({ exported }) =>
        attributeLists(exported).flatMap((list) => list.map(({ key }) => key)),
      ),
    ),
  ];
}

/**
 * The record of a one-record export, broken: mostly its own attributes (those of its events and
 * nested values too), sometimes its name, events, body or timestamps.
 */
function mutateRecord(random: Random, seed: Seed, limits: AttributeLimits) {
  const exported = cloneExport(seed.exported);
  const [record] = records(exported);
  const did: string[] = [];
  for (let i = random.size(4); i > 0 && record !== undefined; i--) {
    const choice = random.below(10);
    if (choice < 5) {
      did.push(mutateAttributes(random, record.attributes, limits));
    } else if (choice < 8) {
      const lists = attributeLists(exported);
      did.push(`nested: ${mutateAttributes(random, random.pick(lists), limits)}`);
    } else if (isSpan(record)) {
      const span = record;
      const name = random.pick(eventNames);
      span.events.push(
        create(otlpTrace.Span_EventSchema, {
          name,
          timeUnixNano: random.pick([0n, span.startTimeUnixNano, 2n ** 64n - 1n]),
          attributes: [{ key: random.pick(limits.keys), value: randomAnyValue(random) }],
        }),
      );
      did.push(`event ${name} added`);
    } else {
      const log = record;
      if (random.chance(0.5)) {
        log.body = randomAnyValue(random, 3);
        did.push('body replaced');
      } else {
        log.eventName = random.pick(eventNames);
        did.push(`event name ${log.eventName}`);
      }
    }
  }
  return { exported, did: did.join(', ') };
}

/** Encodes, decodes and encodes again: the same bytes, or the message is not well formed. */
function expectEncodes(schema: DescMessage, message: Parameters<typeof toBinary>[1]): void {
  const bytes = toBinary(schema, message);
  expect(toBinary(schema, fromBinary(schema, bytes))).toEqual(bytes);
}

const blobs: MapContext = {
  blob: (bytes, mediaType) => ({
    bucket: 'understudy',
    key: `blobs/acme/${createHash('sha256').update(bytes).digest('hex')}`,
    sizeBytes: BigInt(bytes.byteLength),
    mediaType,
  }),
};

const singleSpan = (exported: Exported) =>
  [...sourceSpans(exported.request as otlpTraceService.ExportTraceServiceRequest)][0]!;
const singleLogRecord = (exported: Exported) =>
  [...sourceLogRecords(exported.request as otlpLogsService.ExportLogsServiceRequest)][0]!;

describe('span mappers under fuzzed spans', () => {
  for (const mapper of spanMappers) {
    const own = spanSeeds.filter((seed) => mapper.recognises(sourceOf(seed).span!));
    const limits = { keys: keysOf(own), hugeBytes, manyAttributes: 500, maxDepth: 45 };
    const runs = fuzzRuns(400);
    const target = `mapper ${SourceFormat[mapper.format]}`;
    it(
      `${target}: maps ${runs} broken spans it recognises without throwing, to calls that encode`,
      () => {
        expect(own.length, `${target} recognises no recorded span`).toBeGreaterThan(0);
        const failures = new Failures();
        let mapped = 0;
        for (let index = 0; index < runs; index++) {
          const random = caseRandom(target, index);
          const seed = random.pick(own);
          // Keys of any format, a fifth of the time.
          const keys = random.chance(0.2) ? vocabulary : limits.keys;
          const mutation = mutateRecord(random, seed, { ...limits, keys });
          const source = singleSpan(mutation.exported);
          if (!mapper.recognises(source)) continue;
          mapped++;
          failures.check(caseLabel(target, index, `${seed.name}: ${mutation.did}`), () => {
            const { call, context } = mapper.map(source, blobs);
            expectEncodes(LlmCallSchema, create(LlmCallSchema, { ...call, context }));
          });
        }
        console.info(`${target}: ${runs} cases, ${mapped} recognised and mapped`);
        expect(failures.found).toEqual([]);
      },
      fuzzTimeoutMs(runs, 20),
    );
  }

  const stepMappers = spanMappers.filter((mapper) => mapper.step !== undefined);
  const runs = fuzzRuns(800);
  it(
    `describes ${runs} broken spans as steps, in every format, without throwing`,
    () => {
      const target = 'mapper steps';
      const limits = { keys: vocabulary, hugeBytes, manyAttributes: 500, maxDepth: 45 };
      const failures = new Failures();
      for (let index = 0; index < runs; index++) {
        const random = caseRandom(target, index);
        const seed = random.pick(spanSeeds);
        const mutation = mutateRecord(random, seed, limits);
        const source = singleSpan(mutation.exported);
        for (const mapper of stepMappers) {
          const what = `${SourceFormat[mapper.format]} step of ${seed.name}: ${mutation.did}`;
          failures.check(caseLabel(target, index, what), () => {
            const step = mapper.step?.(source);
            if (step !== undefined)
              expectEncodes(StepFragmentSchema, create(StepFragmentSchema, step));
          });
        }
      }
      expect(failures.found).toEqual([]);
    },
    fuzzTimeoutMs(runs, 20),
  );
});

describe('log mappers under fuzzed log records', () => {
  for (const mapper of logMappers) {
    const own = logSeeds.filter((seed) => mapper.recognises(sourceOf(seed).log!));
    const limits = { keys: keysOf(own), hugeBytes, manyAttributes: 500, maxDepth: 45 };
    const runs = fuzzRuns(400);
    const target = `log mapper ${SourceFormat[mapper.format]}`;
    it(
      `${target}: maps ${runs} broken records it recognises without throwing, to events that encode`,
      () => {
        expect(own.length, `${target} recognises no recorded record`).toBeGreaterThan(0);
        const failures = new Failures();
        for (let index = 0; index < runs; index++) {
          const random = caseRandom(target, index);
          const seed = random.pick(own);
          const mutation = mutateRecord(random, seed, limits);
          const source = singleLogRecord(mutation.exported);
          if (!mapper.recognises(source)) continue;
          failures.check(caseLabel(target, index, `${seed.name}: ${mutation.did}`), () => {
            const event = create(ContentEventFragmentSchema, mapper.map(source, blobs));
            expectEncodes(ContentEventFragmentSchema, event);
          });
        }
        expect(failures.found).toEqual([]);
      },
      fuzzTimeoutMs(runs, 20),
    );
  }
});

describe('fragments of fuzzed exports', () => {
  // The real guard: redaction walks whatever the mappers made of the broken content.
  const guard = contentGuard({ redactor: createRedactor({ secret: Buffer.alloc(32, 7) }) });
  const options = { tenantId: 'acme', producer: 'collector', mapContext: blobs, guard };
  const limits = { keys: vocabulary, hugeBytes, manyAttributes: 500, maxDepth: 45 };

  for (const signal of ['traces', 'logs'] as const) {
    const corpus = recorded.filter(({ exported }) => exported.signal === signal);
    const runs = fuzzRuns(signal === 'traces' ? 400 : 200);
    const target = `${signal} fragments`;
    it(
      `${target}: builds fragments of ${runs} broken exports, each accounted for and encodable`,
      () => {
        const failures = new Failures();
        for (let index = 0; index < runs; index++) {
          const random = caseRandom(target, index);
          const { name, exported: source } = random.pick(corpus);
          const { exported, did } = mutateExport(random, source, limits);
          failures.check(caseLabel(target, index, `${name}: ${did.join(', ')}`), () => {
            const built =
              exported.signal === 'traces'
                ? traceFragments(exported.request, options)
                : logFragments(exported.request, options);
            const total = built.fragments.length + built.ignored + built.rejected;
            expect(total).toBe(records(exported).length);
            for (const fragment of built.fragments) expectEncodes(CaptureFragmentSchema, fragment);
          });
        }
        expect(failures.found).toEqual([]);
      },
      fuzzTimeoutMs(runs, 20),
    );
  }
});
