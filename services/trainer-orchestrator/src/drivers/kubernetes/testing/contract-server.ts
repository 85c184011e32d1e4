import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';

/** One recorded API-server exchange, as stored in `../contract/*.json`. */
export interface Interaction {
  readonly description: string;
  readonly request: {
    readonly method: string;
    readonly path: string;
    /** The exact query parameters. */
    readonly query?: Readonly<Record<string, string>>;
    /** A subset the request body must contain (objects by key, arrays element-wise). */
    readonly body?: unknown;
  };
  readonly response: {
    readonly status: number;
    /** A JSON body, or for watches and logs `lines`: one JSON object or text per line. */
    readonly body?: unknown;
    readonly lines?: readonly unknown[];
  };
}

export interface ContractServer {
  readonly url: string;
  /** What did not match the recording, in order; empty when the client kept to the contract. */
  readonly failures: string[];
  /** Recorded interactions not requested yet. */
  remaining(): number;
  close(): Promise<void>;
}

export async function loadContract(name: string): Promise<Interaction[]> {
  const url = new URL(`../contract/${name}.json`, import.meta.url);
  return JSON.parse(await readFile(url, 'utf8')) as Interaction[];
}

function contains(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((item, index) => contains(actual[index], item))
    );
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return false;
    return Object.entries(expected).every(([key, value]) =>
      contains((actual as Record<string, unknown>)[key], value),
    );
  }
  return isDeepStrictEqual(actual, expected);
}

/**
 * Replays recorded Kubernetes API exchanges in order on 127.0.0.1, checking that each request
 * is the recorded one (method, path, query, bearer token, JSON content type, body shape).
 */
export async function startContractServer(
  interactions: readonly Interaction[],
  token: string,
): Promise<ContractServer> {
  const queue = [...interactions];
  const failures: string[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://contract');
      const next = queue.shift();
      const seen = `${request.method ?? ''} ${url.pathname}${url.search}`;
      const problems: string[] = [];
      if (next === undefined) problems.push('no more recorded interactions');
      else {
        const expected = next.request;
        if (request.method !== expected.method || url.pathname !== expected.path) {
          problems.push(`expected ${expected.method} ${expected.path}`);
        }
        if (!isDeepStrictEqual(Object.fromEntries(url.searchParams), expected.query ?? {})) {
          problems.push(`expected query ${JSON.stringify(expected.query ?? {})}`);
        }
        if (request.headers.authorization !== `Bearer ${token}`) problems.push('bad bearer token');
        if (expected.body !== undefined) {
          const text = Buffer.concat(chunks).toString('utf8');
          if (request.headers['content-type'] !== 'application/json') {
            problems.push('body is not application/json');
          }
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          if (!contains(body, expected.body)) problems.push(`body does not match: ${text}`);
        }
      }
      if (problems.length > 0 || next === undefined) {
        failures.push(`${seen}: ${problems.join('; ')}`);
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ kind: 'Status', code: 500, message: problems.join('; ') }));
        return;
      }
      const { status, body, lines } = next.response;
      response.writeHead(status, { 'content-type': 'application/json' });
      if (lines !== undefined) {
        response.end(
          lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n') +
            '\n',
        );
      } else {
        response.end(body === undefined ? '' : JSON.stringify(body));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    failures,
    remaining: () => queue.length,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => {
          if (error === undefined) resolve();
          else reject(error);
        });
      }),
  };
}
