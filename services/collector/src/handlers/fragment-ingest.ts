import { createHash } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import { toBinary } from '@bufbuild/protobuf';
import {
  CaptureFragmentSchema,
  type CaptureFragment,
  type otlpLogsService,
  type otlpTraceService,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { ObjectStore } from '@understudy/storage';
import type { Ingest, IngestResult } from '../domain/ingest.js';
import {
  logFragments,
  traceFragments,
  type ContentGuard,
  type FragmentOptions,
  type Fragments,
} from '../domain/fragments.js';
import type { MapContext } from '../domain/mappers/index.js';

/** Publishes fragments; resolves only once Kafka has them on all in-sync replicas. */
export type PublishFragments = (fragments: readonly CaptureFragment[]) => Promise<void>;

export interface FragmentIngestOptions {
  readonly publish: PublishFragments;
  readonly guard: ContentGuard;
  /** Where inline blobs (images, audio) go, and in which bucket they are referenced. */
  readonly store: ObjectStore;
  readonly bucket: string;
  readonly producer: string;
}

interface Blob {
  readonly key: string;
  readonly bytes: Uint8Array;
  readonly mimeType: string;
}

/**
 * The collector's ingest: maps an export into redacted fragments, stores its inline blobs, and
 * publishes the fragments for the joiner. Nothing is acknowledged before Kafka has it.
 */
export class FragmentIngest implements Ingest {
  constructor(private readonly options: FragmentIngestOptions) {}

  traces(
    tenantId: string,
    request: otlpTraceService.ExportTraceServiceRequest,
  ): Promise<IngestResult> {
    return this.ingest(tenantId, (options) => traceFragments(request, options));
  }

  logs(tenantId: string, request: otlpLogsService.ExportLogsServiceRequest): Promise<IngestResult> {
    return this.ingest(tenantId, (options) => logFragments(request, options));
  }

  private async ingest(
    tenantId: string,
    fragmentsOf: (options: FragmentOptions) => Fragments,
  ): Promise<IngestResult> {
    const blobs: Blob[] = [];
    const mapContext: MapContext = {
      blob: (bytes, mimeType) => {
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        // Content-addressed under the tenant, so storing the same blob again is harmless.
        const key = `blobs/${tenantId}/${sha256.slice(0, 2)}/${sha256}`;
        blobs.push({ key, bytes, mimeType });
        return {
          bucket: this.options.bucket,
          key,
          sha256,
          sizeBytes: BigInt(bytes.byteLength),
          mediaType: mimeType || 'application/octet-stream',
        };
      },
    };
    const { fragments, ignored, rejected, rejectedMessage } = fragmentsOf({
      tenantId,
      producer: this.options.producer,
      mapContext,
      guard: this.options.guard,
    });
    trace.getActiveSpan()?.setAttributes({
      'understudy.tenant.id': tenantId,
      'understudy.collector.fragments': fragments.length,
      'understudy.collector.records.ignored': ignored,
    });
    // The edge bounds the wait and answers 503 past it; a late success is harmless, as the
    // exporter's retry yields the same fragments and the joiner takes each call once.
    try {
      await Promise.all(
        blobs.map((blob) =>
          this.options.store.put(blob.key, Buffer.from(blob.bytes), {
            contentType: blob.mimeType || 'application/octet-stream',
          }),
        ),
      );
      const unencodable = await this.publish(fragments);
      if (unencodable === 0) return { rejected, message: rejectedMessage };
      return {
        rejected: rejected + unencodable,
        message: [rejectedMessage, `${String(unencodable)} records could not be encoded`]
          .filter(Boolean)
          .join('; '),
      };
    } catch (error) {
      throw UnderstudyError.from(error).code === ErrorCode.Unavailable
        ? error
        : new UnderstudyError(ErrorCode.Unavailable, 'storing the export failed', {
            cause: error,
          });
    }
  }

  /**
   * Publishes the fragments; returns how many were left out because they cannot be encoded (a
   * mapper bug), so that one such record cannot make its export fail, and be retried, forever.
   * Encoding each fragment costs as much as publishing it, so it is only checked after a failure.
   */
  private async publish(fragments: readonly CaptureFragment[]): Promise<number> {
    if (fragments.length === 0) return 0;
    try {
      await this.options.publish(fragments);
      return 0;
    } catch (error) {
      const encodable = fragments.filter(encodes);
      if (encodable.length === fragments.length) throw error;
      if (encodable.length > 0) await this.options.publish(encodable);
      return fragments.length - encodable.length;
    }
  }
}

function encodes(fragment: CaptureFragment): boolean {
  try {
    toBinary(CaptureFragmentSchema, fragment);
    return true;
  } catch {
    return false;
  }
}
