import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fromBinary } from '@bufbuild/protobuf';
import { type otlpCommon, otlpTraceService } from '@understudy/contracts';

/** A span as received, its attributes as plain values. */
export interface ReceivedSpan {
  readonly name: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

export interface OtlpReceiver {
  /** Base URL for an OTLP/HTTP exporter (it appends `/v1/traces`). */
  readonly url: string;
  /** Every span exported so far. */
  spans(): ReceivedSpan[];
  /**
   * From now on, passes every export on to the collector with the tenant's key, as an OTel
   * Collector agent beside the platform would: the gateway's own GenAI spans close the loop.
   */
  forwardTo(collectorTracesUrl: string, apiKey: string): void;
  close(): Promise<void>;
}

/** Receives OTLP/HTTP protobuf trace exports, as a collector of the platform's own spans would. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const exports: otlpTraceService.ExportTraceServiceRequest[] = [];
  let forward: { url: string; apiKey: string } | undefined;
  const server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
      const body = Buffer.concat(chunks);
      exports.push(fromBinary(otlpTraceService.ExportTraceServiceRequestSchema, body));
      const status = forward === undefined ? 200 : await pass(forward, body);
      res.writeHead(status, { 'content-type': 'application/x-protobuf' }).end();
    })().catch(() => res.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    spans: () =>
      exports.flatMap((e) =>
        e.resourceSpans.flatMap((r) =>
          r.scopeSpans.flatMap((s) =>
            s.spans.map((span) => ({
              name: span.name,
              attributes: Object.fromEntries(
                span.attributes.map(({ key, value }) => [key, plain(value)]),
              ),
            })),
          ),
        ),
      ),
    forwardTo: (url, apiKey) => {
      forward = { url, apiKey };
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The collector's answer to the export, which the exporter then sees as its own. */
async function pass(to: { url: string; apiKey: string }, body: Buffer): Promise<number> {
  const response = await fetch(to.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${to.apiKey}` },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

function plain(value: otlpCommon.AnyValue | undefined): unknown {
  switch (value?.value.case) {
    case 'stringValue':
    case 'boolValue':
    case 'doubleValue':
      return value.value.value;
    case 'intValue':
      return Number(value.value.value);
    case 'arrayValue':
      return value.value.value.values.map(plain);
    case 'kvlistValue':
      return Object.fromEntries(value.value.value.values.map((kv) => [kv.key, plain(kv.value)]));
    case 'bytesValue':
      return Buffer.from(value.value.value).toString('hex');
    case undefined:
      return undefined;
  }
}
