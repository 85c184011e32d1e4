import { ModelRegistryService } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { createClient, type Client } from '@understudy/grpc';
import type { Run } from '../domain/run.js';
import { adapterArtifact } from '../domain/wire.js';

/** Where a succeeded run's adapter becomes a model version. */
export interface ModelRegistry {
  /** Registers the run's adapter, idempotent by run id; resolves with the model version id. */
  register(run: Run): Promise<string>;
  /** The `s3://` URI of a dataset's manifest; NOT_FOUND for another tenant's dataset. */
  datasetManifestUri(tenantId: string, datasetId: string): Promise<string>;
  close(): void;
}

/** The model registry's gRPC API (`UNDERSTUDY_REGISTRY_ADDRESS`). */
export class GrpcModelRegistry implements ModelRegistry {
  private readonly client: Client<typeof ModelRegistryService>;

  constructor(address: string, timeoutMs = 10_000) {
    this.client = createClient(ModelRegistryService, address, { timeoutMs });
  }

  async register(run: Run): Promise<string> {
    const adapter = adapterArtifact(run);
    const { modelVersion } = await this.client.registerModelVersion({
      requestId: run.runId,
      modelVersion: {
        tenantId: run.tenantId,
        taskId: run.taskId,
        runId: run.runId,
        datasetId: run.datasetId,
        baseModel: run.baseModel,
        ...(adapter !== undefined && { adapter }),
        metrics: { ...run.metrics },
      },
    });
    return modelVersion?.modelVersionId ?? '';
  }

  async datasetManifestUri(tenantId: string, datasetId: string): Promise<string> {
    const { dataset } = await this.client.getDataset({ tenantId, datasetId });
    const manifest = dataset?.manifest;
    if (manifest === undefined || manifest.key === '') {
      throw new UnderstudyError(
        ErrorCode.FailedPrecondition,
        `dataset ${datasetId} has no manifest`,
      );
    }
    return `s3://${manifest.bucket}/${manifest.key}`;
  }

  close(): void {
    this.client.close();
  }
}
