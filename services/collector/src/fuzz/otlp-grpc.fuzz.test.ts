import {
  connect,
  constants as h2,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
} from 'node:http2';
import { fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { googleRpc, otlpLogsService, otlpTraceService } from '@understudy/contracts';
import { methodPath, statusDetailsTrailer, type GrpcServer } from '@understudy/grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEdge } from '../edge/testing/fixtures.js';
import { OtlpGrpcHandler } from '../handlers/otlp-grpc.js';
import { encode, mutateExport, pickRecorded, vocabulary, withInvalidUtf8 } from './exports.js';
import { FuzzIngest, gzip, gzipBomb, Tally, watchingLogger } from './harness.js';
import { mutateBytes } from './mutate.js';
import { caseLabel, caseRandom, fuzzRuns, fuzzTimeoutMs, type Random } from './random.js';

/**
 * OTLP/gRPC end to end over HTTP/2 frames written by hand, so that the message, its length
 * prefix and its compression can all be wrong: the answer is OK (full or partial success, as
 * the ingest said), INVALID_ARGUMENT or RESOURCE_EXHAUSTED, with the status in the trailers.
 * Where the framing itself is broken grpc-js answers before the handler runs: INTERNAL for a
 * message that cannot be decompressed and UNIMPLEMENTED for an unknown encoding, as the gRPC
 * spec says (doc/statuscodes.md), and UNIMPLEMENTED for a unary call with no complete message
 * or with two (grpc-js' own choice). The ingest never sees those calls.
 */

const maxBodyBytes = 256 * 1024;
const limits = { keys: vocabulary, hugeBytes: maxBodyBytes, manyAttributes: 4_000, maxDepth: 120 };
const grpcStatus = {
  ok: 0,
  invalidArgument: 3,
  resourceExhausted: 8,
  unimplemented: 12,
  internal: 13,
};
/** What the handler answers any message. */
const handlerAnswers = [grpcStatus.ok, grpcStatus.invalidArgument, grpcStatus.resourceExhausted];
/** What grpc-js answers a unary call without exactly one complete message. */
const framingAnswers = [...handlerAnswers, grpcStatus.unimplemented];
const services = {
  traces: {
    path: methodPath(otlpTraceService.TraceService.method.export),
    request: otlpTraceService.ExportTraceServiceRequestSchema,
    response: otlpTraceService.ExportTraceServiceResponseSchema,
  },
  logs: {
    path: methodPath(otlpLogsService.LogsService.method.export),
    request: otlpLogsService.ExportLogsServiceRequestSchema,
    response: otlpLogsService.ExportLogsServiceResponseSchema,
  },
};

interface GrpcCase {
  readonly signal: 'traces' | 'logs';
  /** The whole request body: length-prefixed messages, or not. */
  readonly frames: Uint8Array;
  readonly encoding?: string;
  readonly expected?: readonly number[];
  readonly did: string;
}

interface GrpcAnswer {
  readonly status: number;
  readonly message: string;
  readonly details: Buffer | undefined;
  readonly body: Buffer;
}

function frame(message: Uint8Array, compressed = false, length = message.byteLength): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(compressed ? 1 : 0, 0);
  prefix.writeUInt32BE(length, 1);
  return Buffer.concat([prefix, message]);
}

/**
 * Makes the call on a connection of its own: the server's HTTP/2 defences (GOAWAY
 * ENHANCE_YOUR_CALM after many refused streams) would otherwise tie each case to those before.
 */
async function call(port: number, fuzzCase: GrpcCase): Promise<GrpcAnswer> {
  const session = connect(`http://127.0.0.1:${port}`);
  try {
    return await callOn(session, fuzzCase);
  } finally {
    session.close();
  }
}

function callOn(session: ClientHttp2Session, fuzzCase: GrpcCase): Promise<GrpcAnswer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      [h2.HTTP2_HEADER_METHOD]: 'POST',
      [h2.HTTP2_HEADER_PATH]: services[fuzzCase.signal].path,
      [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      te: 'trailers',
      authorization: 'Bearer acme-key',
      ...(fuzzCase.encoding !== undefined && { 'grpc-encoding': fuzzCase.encoding }),
    });
    let headers: IncomingHttpHeaders = {};
    const parts: Buffer[] = [];
    stream.on('response', (received) => {
      headers = { ...received };
    });
    // A trailers-only answer carries its status in the headers.
    stream.on('trailers', (received: IncomingHttpHeaders) => {
      headers = { ...headers, ...received };
    });
    stream.on('data', (part: Buffer) => parts.push(part));
    let failure: Error | undefined;
    stream.on('error', (error: Error) => {
      failure = error;
    });
    stream.on('close', () => {
      if (headers['grpc-status'] === undefined) {
        reject(failure ?? new Error('no grpc-status'));
        return;
      }
      const details = headers[statusDetailsTrailer];
      const message = headers['grpc-message'];
      resolve({
        status: Number(headers['grpc-status']),
        message: typeof message === 'string' ? decodeURIComponent(message) : '',
        details: typeof details === 'string' ? Buffer.from(details, 'base64') : undefined,
        body: Buffer.concat(parts),
      });
    });
    sendUntilAnswered(stream, fuzzCase.frames);
  });
}

/**
 * Writes the body as flow control allows and stops once the server has answered, as gRPC
 * clients do: one that kept sending to a stream already refused would be cut off by the
 * server's HTTP/2 defences (ENHANCE_YOUR_CALM) instead of reading its answer.
 */
function sendUntilAnswered(stream: ClientHttp2Stream, body: Uint8Array): void {
  const chunkBytes = 64 * 1024;
  let offset = 0;
  let answered = false;
  stream.once('response', () => {
    answered = true;
  });
  const pump = (): void => {
    while (!answered && offset < body.byteLength) {
      const chunk = body.subarray(offset, offset + chunkBytes);
      offset += chunk.byteLength;
      if (!stream.write(chunk)) {
        stream.once('drain', pump);
        return;
      }
    }
    if (answered) stream.close();
    else stream.end();
  };
  pump();
}

function grpcCase(random: Random, bomb: Buffer): GrpcCase {
  const { name, exported } = pickRecorded(random);
  const signal = random.chance(0.9) ? exported.signal : random.pick(['traces', 'logs'] as const);
  const steps = [`${name} to ${signal}`];
  const valid = encode(exported, 'protobuf');
  let message: Uint8Array = valid;
  let expected: number[] | undefined = signal === exported.signal ? [grpcStatus.ok] : undefined;
  switch (random.below(6)) {
    case 0:
      break;
    case 1:
    case 2: {
      const mutated = mutateExport(random, exported, limits);
      message = encode(mutated.exported, 'protobuf');
      steps.push(...mutated.did);
      expected = undefined;
      break;
    }
    case 3: {
      const broken = withInvalidUtf8(random, exported, 'protobuf');
      message = broken.bytes;
      steps.push(broken.did);
      expected = [grpcStatus.invalidArgument];
      break;
    }
    default: {
      for (let i = random.size(3); i > 0; i--) {
        const step = mutateBytes(random, message);
        message = step.bytes;
        steps.push(step.did);
      }
      expected = undefined;
    }
  }
  if (message.byteLength > maxBodyBytes) expected = [grpcStatus.resourceExhausted];

  switch (random.below(12)) {
    case 0:
      steps.push('gzip');
      return {
        signal,
        frames: frame(gzip(message), true),
        encoding: 'gzip',
        did: steps.join('; '),
        ...(expected && { expected }),
      };
    case 1:
      steps.push(`a gzip bomb of ${bomb.byteLength} bytes`);
      return {
        signal,
        frames: frame(bomb, true),
        encoding: 'gzip',
        expected: [grpcStatus.resourceExhausted],
        did: steps.join('; '),
      };
    case 2: {
      const broken = mutateBytes(random, gzip(message));
      steps.push(`gzip then ${broken.did}`);
      // A broken gzip stream may still inflate to something, or fail as the spec says.
      return {
        signal,
        frames: frame(broken.bytes, true),
        encoding: 'gzip',
        did: steps.join('; '),
        expected: [...handlerAnswers, grpcStatus.internal],
      };
    }
    case 3:
      // grpc-js reads the message as it is.
      steps.push('compressed flag without an encoding');
      return { signal, frames: frame(message, true), did: steps.join('; ') };
    case 4:
      steps.push('an unknown encoding');
      return {
        signal,
        frames: frame(gzip(message), true),
        encoding: random.pick(['br', 'zstd', 'x-fuzz']),
        expected: [grpcStatus.unimplemented],
        did: steps.join('; '),
      };
    case 5: {
      const length = random.pick([message.byteLength + 1, message.byteLength * 2, 2 ** 32 - 1, 0]);
      steps.push(`length prefix ${length} for ${message.byteLength} bytes`);
      return {
        signal,
        frames: frame(message, false, length),
        expected: framingAnswers,
        did: steps.join('; '),
      };
    }
    case 6: {
      const cut = random.below(5);
      steps.push(`the prefix alone, cut to ${cut} bytes`);
      return {
        signal,
        frames: frame(message).subarray(0, cut),
        expected: framingAnswers,
        did: steps.join('; '),
      };
    }
    case 7:
      steps.push('two messages');
      return {
        signal,
        frames: Buffer.concat([frame(message), frame(message)]),
        expected: framingAnswers,
        did: steps.join('; '),
      };
    default:
      return {
        signal,
        frames: frame(message),
        did: steps.join('; '),
        ...(expected && { expected }),
      };
  }
}

describe('OTLP/gRPC under fuzzed exports', () => {
  const ingest = new FuzzIngest();
  const logger = watchingLogger();
  let server: GrpcServer;
  let bomb: Buffer;

  beforeAll(async () => {
    const edge = testEdge(ingest, {
      maxInFlightBytes: 64 * maxBodyBytes,
      ingestTimeoutMs: 10_000,
      limits: { maxBodyBytes, requestsPerSecond: 1e9, bytesPerSecond: 1e12 },
    });
    server = new OtlpGrpcHandler(edge).createServer({ host: '127.0.0.1', port: 0, logger });
    await server.start();
    bomb = await gzipBomb(64 * 1024 * 1024);
  });

  afterAll(async () => {
    await server.shutdown();
  });

  /** What every answer must be, given the case and what the ingest was handed. */
  function checkAnswer(fuzzCase: GrpcCase, answer: GrpcAnswer): void {
    expect(answer.status).toBeOneOf([...(fuzzCase.expected ?? handlerAnswers)]);
    expect(logger.errors).toEqual([]);
    const service = services[fuzzCase.signal];
    if (answer.status !== grpcStatus.ok) {
      expect(ingest.received).toHaveLength(0);
      // The handler's refusals carry a google.rpc.Status; grpc-js' own framing errors do not.
      if (answer.details !== undefined) {
        expect(fromBinary(googleRpc.StatusSchema, answer.details).code).toBe(answer.status);
      }
      return;
    }
    expect(ingest.received).toHaveLength(1);
    const response = fromBinary(service.response as DescMessage, answer.body.subarray(5)) as
      otlpTraceService.ExportTraceServiceResponse | otlpLogsService.ExportLogsServiceResponse;
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
    const schema = service.request as DescMessage;
    const bytes = toBinary(schema, ingest.received[0]!.request as never);
    expect(toBinary(schema, fromBinary(schema, bytes))).toEqual(bytes);
  }

  const runs = fuzzRuns(800);
  it(
    `answers ${runs} fuzzed calls with OK, INVALID_ARGUMENT or RESOURCE_EXHAUSTED`,
    async () => {
      const answers = new Tally();
      for (let index = 0; index < runs; index++) {
        const fuzzCase = grpcCase(caseRandom('otlp-grpc', index), bomb);
        ingest.reset();
        const label = caseLabel('otlp-grpc', index, fuzzCase.did);
        const answer = await call(server.port, fuzzCase).catch((error: unknown) => {
          throw new Error(label, { cause: error });
        });
        answers.add(`${fuzzCase.signal} ${answer.status}`);
        try {
          checkAnswer(fuzzCase, answer);
        } catch (error) {
          const said = `answered ${answer.status} ${answer.message.slice(0, 200)}`;
          throw new Error(`${label}: ${said}`, { cause: error });
        }
      }
      console.info(
        `otlp-grpc: ${runs} cases; answers by signal and gRPC status: ${answers.summary}`,
      );
    },
    fuzzTimeoutMs(runs, 20),
  );
});
