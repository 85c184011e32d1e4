import { Agent, request as httpRequest } from 'node:http';
import { fromBinary, fromJsonString, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { googleRpc, otlpLogsService, otlpTraceService } from '@understudy/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodingOf, type Encoding } from '../domain/otlp-codec.js';
import { listen, type HttpListener } from '../drivers/http-server.js';
import { testEdge } from '../edge/testing/fixtures.js';
import { OtlpHttpHandler } from '../handlers/otlp-http.js';
import {
  cloneExport,
  encode,
  mutateExport,
  pickRecorded,
  vocabulary,
  withInvalidUtf8,
  type Exported,
} from './exports.js';
import { FuzzIngest, gzip, gzipBomb, Tally, watchingLogger } from './harness.js';
import { mutateBytes, mutateJson, type Json } from './mutate.js';
import { caseLabel, caseRandom, fuzzRuns, fuzzTimeoutMs, type Random } from './random.js';

/**
 * OTLP/HTTP end to end, through the real handler and edge over a socket: whatever the body,
 * headers or coding, the answer is a 200 (full or partial success, as the ingest said), a 400
 * with a google.rpc.Status, a 413 or a 415 — never a 5xx, never an error logged.
 */

const maxBodyBytes = 256 * 1024;
const limits = {
  keys: vocabulary,
  hugeBytes: maxBodyBytes,
  manyAttributes: 4_000,
  maxDepth: 120,
};
const paths = { traces: '/v1/traces', logs: '/v1/logs' } as const;
const responseSchemas = {
  traces: otlpTraceService.ExportTraceServiceResponseSchema,
  logs: otlpLogsService.ExportLogsServiceResponseSchema,
};
const requestSchemas = {
  traces: otlpTraceService.ExportTraceServiceRequestSchema,
  logs: otlpLogsService.ExportLogsServiceRequestSchema,
};
const contentTypes: Record<Encoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

interface HttpCase {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
  /** Sent in chunks of these sizes with chunked transfer coding, else with a content-length. */
  readonly chunks?: readonly number[];
  /** What the answer must be, where the case decides it; else any of 200, 400, 413. */
  readonly expected?: readonly number[];
  readonly did: string;
}

interface Answer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

function send(port: number, fuzzCase: HttpCase): Promise<Answer> {
  const { chunks, body } = fuzzCase;
  const headers = {
    ...fuzzCase.headers,
    ...(chunks === undefined && { 'content-length': String(body.byteLength) }),
  };
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port, path: fuzzCase.path, method: 'POST', headers, agent },
      (response) => {
        const parts: Buffer[] = [];
        response.on('data', (part: Buffer) => parts.push(part));
        response.on('end', () => {
          resolve({
            status: response.statusCode ?? 0,
            contentType: response.headers['content-type'],
            body: Buffer.concat(parts),
          });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    let offset = 0;
    for (const size of chunks ?? []) {
      request.write(body.subarray(offset, offset + size));
      offset += size;
    }
    request.end(body.subarray(offset));
  });
}

function splitInChunks(random: Random, length: number): number[] {
  const sizes: number[] = [];
  for (let left = length; left > 0;) {
    const size = Math.min(left, random.size(16 * 1024));
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

const acceptedContentTypes: Record<Encoding, readonly string[]> = {
  protobuf: [
    'application/x-protobuf; charset=utf-8',
    'Application/X-Protobuf',
    ' application/x-protobuf ',
  ],
  json: ['application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;q=1'],
};
const refusedContentTypes = [
  'text/plain',
  'application/protobuf',
  'application/grpc',
  '',
  'application/x-protobuf, application/json',
  'multipart/form-data; boundary=x',
  'application/jsonx',
];
const refusedCodings = ['br', 'deflate', 'compress', 'gzip, gzip', 'x-gzip', 'gzip;q=1', 'zstd'];

/** A body for `exported` in `encoding`, valid or broken in one of many ways. */
function bodyOf(
  random: Random,
  exported: Exported,
  encoding: Encoding,
): { body: Uint8Array; did: string; valid: boolean } {
  switch (random.below(10)) {
    case 0:
      return { body: encode(exported, encoding), did: 'the recorded export', valid: true };
    case 1:
    case 2:
    case 3: {
      const mutated = mutateExport(random, exported, limits);
      return {
        body: encode(mutated.exported, encoding),
        did: mutated.did.join(', '),
        valid: false,
      };
    }
    case 4: {
      const broken = withInvalidUtf8(random, exported, encoding);
      return { body: broken.bytes, did: broken.did, valid: false };
    }
    case 5:
      if (encoding === 'json') {
        const document = JSON.parse(Buffer.from(encode(exported, encoding)).toString()) as Json;
        const steps: string[] = [];
        let mutated = document;
        for (let i = random.size(4); i > 0; i--) {
          const step = mutateJson(random, mutated, vocabulary, maxBodyBytes / 2);
          mutated = step.document;
          steps.push(step.did);
        }
        return { body: Buffer.from(JSON.stringify(mutated)), did: steps.join(', '), valid: false };
      }
      break;
    default:
      break;
  }
  let body = encode(exported, encoding);
  const steps: string[] = [];
  for (let i = random.size(3); i > 0; i--) {
    const step = mutateBytes(random, body);
    body = step.bytes;
    steps.push(step.did);
  }
  return { body, did: steps.join(', '), valid: false };
}

function httpCase(random: Random, bomb: Buffer): HttpCase {
  const { name, exported: source } = pickRecorded(random);
  // A small export most of the time, so that mutations are not lost in a large one.
  const exported = random.chance(0.5) ? onlyFirstRecords(random, source) : source;
  const encoding: Encoding = random.chance(0.5) ? 'protobuf' : 'json';
  const signal = random.chance(0.9) ? exported.signal : random.pick(['traces', 'logs'] as const);
  const { body: plain, did, valid } = bodyOf(random, exported, encoding);
  const steps = [`${name} as ${encoding} to ${paths[signal]}`, did];
  const headers: Record<string, string> = {
    authorization: 'Bearer acme-key',
    'content-type': contentTypes[encoding],
  };
  let body = plain;
  let expected: number[] | undefined = valid && signal === exported.signal ? [200] : undefined;
  if (plain.byteLength > maxBodyBytes) expected = [413];

  const coding = random.below(20);
  if (coding < 4) {
    headers['content-encoding'] = random.pick(['gzip', 'GZIP', ' gzip ']);
    body = gzip(plain);
    steps.push('gzip');
    if (random.chance(0.4)) {
      const broken = mutateBytes(random, body);
      body = broken.bytes;
      steps.push(`gzip then ${broken.did}`);
      expected = undefined;
    }
  } else if (coding === 4) {
    headers['content-encoding'] = 'gzip';
    body = bomb;
    steps.push(`a gzip bomb of ${bomb.byteLength} bytes`);
    expected = [413];
  } else if (coding === 5) {
    headers['content-encoding'] = 'gzip';
    body = gzip(gzip(plain));
    steps.push('gzip twice');
    expected = [400, 413];
  } else if (coding === 6) {
    headers['content-encoding'] = random.pick(refusedCodings);
    steps.push(`content-encoding ${headers['content-encoding']}`);
    expected = [415];
  } else if (coding === 7) {
    headers['content-encoding'] = 'identity';
    steps.push('content-encoding identity');
  }

  const typing = random.below(20);
  if (typing < 2) {
    headers['content-type'] = random.pick(acceptedContentTypes[encoding]);
    steps.push(`content-type ${headers['content-type']}`);
  } else if (typing < 4) {
    headers['content-type'] = random.pick(refusedContentTypes);
    steps.push(`content-type ${headers['content-type'] || '(empty)'}`);
    expected = [415];
  } else if (typing === 4) {
    const other = encoding === 'json' ? 'protobuf' : 'json';
    headers['content-type'] = contentTypes[other];
    steps.push(`labelled ${other}`);
    if (expected?.includes(200) === true) expected = undefined;
  }

  const chunked = random.chance(0.3) && body.byteLength > 0;
  if (chunked) steps.push('chunked');
  return {
    path: paths[signal],
    headers,
    body,
    ...(chunked && { chunks: splitInChunks(random, body.byteLength) }),
    ...(expected && { expected }),
    did: steps.join('; '),
  };
}

/** The export with its first few records only (every record when the draw is large). */
function onlyFirstRecords(random: Random, source: Exported): Exported {
  const exported = cloneExport(source);
  const keep = random.size(8);
  if (exported.signal === 'traces') {
    for (const resource of exported.request.resourceSpans) {
      for (const scope of resource.scopeSpans) scope.spans.splice(keep);
    }
  } else {
    for (const resource of exported.request.resourceLogs) {
      for (const scope of resource.scopeLogs) scope.logRecords.splice(keep);
    }
  }
  return exported;
}

function decodeAs<Desc extends DescMessage>(schema: Desc, encoding: Encoding, body: Buffer) {
  return encoding === 'protobuf'
    ? fromBinary(schema, body)
    : fromJsonString(schema, body.toString('utf8'));
}

describe('OTLP/HTTP under fuzzed exports', () => {
  const ingest = new FuzzIngest();
  const logger = watchingLogger();
  let server: HttpListener;
  let bomb: Buffer;

  beforeAll(async () => {
    const edge = testEdge(ingest, {
      maxInFlightBytes: 64 * maxBodyBytes,
      ingestTimeoutMs: 10_000,
      limits: { maxBodyBytes, requestsPerSecond: 1e9, bytesPerSecond: 1e12 },
    });
    server = await listen('127.0.0.1', 0, new OtlpHttpHandler(edge, logger).handle, logger);
    // 64 MiB of zeros in about 64 KiB: 256 times the largest export.
    bomb = await gzipBomb(64 * 1024 * 1024);
  });

  afterAll(async () => {
    agent.destroy();
    await server.close(1_000);
  });

  /** What every answer must be, given the case and what the ingest was handed. */
  function checkAnswer(fuzzCase: HttpCase, answer: Answer): void {
    expect(answer.status).toBeOneOf([...(fuzzCase.expected ?? [200, 400, 413])]);
    expect(logger.errors).toEqual([]);
    // Answers come in the request's encoding, refusals of unknown types in protobuf.
    const encoding = encodingOf(fuzzCase.headers['content-type']) ?? 'protobuf';
    expect(answer.contentType).toBe(contentTypes[encoding]);
    if (answer.status !== 200) {
      const status = decodeAs(googleRpc.StatusSchema, encoding, answer.body);
      expect(status.code).toBe(answer.status === 413 ? 8 : 3);
      expect(status.message).not.toBe('');
      expect(ingest.received).toHaveLength(0);
      return;
    }
    // A 200 means the ingest took one export and the answer says what the ingest said.
    expect(ingest.received).toHaveLength(1);
    const received = ingest.received[0]!;
    const signal = fuzzCase.path === paths.traces ? 'traces' : 'logs';
    expect(received.signal).toBe(signal);
    const response = decodeAs(responseSchemas[signal], encoding, answer.body);
    const { rejected, message } = ingest.lastAnswer!;
    if (rejected === 0) {
      expect(response.partialSuccess).toBeUndefined();
    } else {
      const partial = response.partialSuccess!;
      expect(partial.errorMessage).toBe(message);
      const counted =
        'rejectedSpans' in partial ? partial.rejectedSpans : partial.rejectedLogRecords;
      expect(counted).toBe(BigInt(rejected));
    }
    // What the ingest got is a well-formed message: it encodes, and decodes to the same bytes.
    const schema = requestSchemas[signal] as DescMessage;
    const bytes = toBinary(schema, received.request as never);
    expect(toBinary(schema, fromBinary(schema, bytes))).toEqual(bytes);
  }

  const runs = fuzzRuns(2_500);
  it(
    `answers ${runs} fuzzed exports with 200, 400, 413 or 415, never 5xx`,
    async () => {
      const answers = new Tally();
      for (let index = 0; index < runs; index++) {
        const fuzzCase = httpCase(caseRandom('otlp-http', index), bomb);
        ingest.reset();
        const answer = await send(server.port, fuzzCase);
        answers.add(`${fuzzCase.path} ${answer.status}`);
        try {
          checkAnswer(fuzzCase, answer);
        } catch (error) {
          const said = `answered ${answer.status} ${answer.body.toString('utf8', 0, 200)}`;
          throw new Error(`${caseLabel('otlp-http', index, fuzzCase.did)}: ${said}`, {
            cause: error,
          });
        }
      }
      console.info(`otlp-http: ${runs} cases; answers by path and status: ${answers.summary}`);
      // The run exercised every kind of answer on both paths, not just one.
      expect(answers.keys).toEqual(
        ['/v1/logs', '/v1/traces'].flatMap((path) =>
          [200, 400, 413, 415].map((s) => `${path} ${s}`),
        ),
      );
    },
    fuzzTimeoutMs(runs, 20),
  );
});
