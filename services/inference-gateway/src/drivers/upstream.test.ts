import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode } from '@understudy/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchUpstream } from './upstream.js';

describe('FetchUpstream', () => {
  let server: Server;
  let baseUrl: string;
  const upstream = new FetchUpstream();

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/v1/slow') {
        setTimeout(() => res.end('{}'), 1000);
        return;
      }
      if (req.url === '/v1/stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
        setTimeout(() => res.end('data: [DONE]\n\n'), 300);
        return;
      }
      res
        .writeHead(418, { 'content-type': 'application/json' })
        .end(`{"auth":"${req.headers.authorization ?? ''}"}`);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers with any HTTP status, sending the key as a bearer token', async () => {
    const response = await upstream.send(
      { baseUrl, apiKey: 'k', timeoutMs: 1000 },
      { method: 'POST', path: '/x', body: {} },
    );
    expect(response).toEqual({
      status: 418,
      contentType: 'application/json',
      streamed: false,
      text: '{"auth":"Bearer k"}',
    });
  });

  it('fails with DEADLINE_EXCEEDED after the timeout and UNAVAILABLE when unreachable', async () => {
    await expect(
      upstream.send({ baseUrl, timeoutMs: 100 }, { method: 'GET', path: '/slow' }),
    ).rejects.toMatchObject({ code: ErrorCode.DeadlineExceeded });
    await expect(
      upstream.send(
        { baseUrl: 'http://127.0.0.1:1/v1', timeoutMs: 1000 },
        { method: 'GET', path: '/x' },
      ),
    ).rejects.toMatchObject({ code: ErrorCode.Unavailable });
  });

  it('hands back a stream that may outlive the timeout, which only covered the headers', async () => {
    const response = await upstream.send(
      { baseUrl, timeoutMs: 150 },
      { method: 'POST', path: '/stream', body: {}, stream: true },
    );
    expect(response.streamed).toBe(true);
    if (!response.streamed) return;
    let text = '';
    for await (const bytes of response.body) text += Buffer.from(bytes).toString();
    expect(text).toBe('data: 1\n\ndata: [DONE]\n\n');
  });
});
