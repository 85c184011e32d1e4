import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { ModelRegistryService, type Dataset } from '@understudy/contracts';
import { createClient, type Client } from '@understudy/grpc';
import type { DatasetRegistry } from '../domain/ports.js';

/** The model registry over gRPC (`UNDERSTUDY_REGISTRY_ADDRESS`). */
export class GrpcDatasetRegistry implements DatasetRegistry {
  private readonly client: Client<typeof ModelRegistryService>;

  constructor(address: string, options: { readonly timeoutMs?: number } = {}) {
    this.client = createClient(ModelRegistryService, address, {
      timeoutMs: options.timeoutMs ?? 10_000,
    });
  }

  async createDataset(requestId: string, dataset: Dataset): Promise<Dataset> {
    const response = await this.client.createDataset({ requestId, dataset });
    if (response.dataset === undefined) {
      throw new UnderstudyError(
        ErrorCode.Internal,
        'the registry answered CreateDataset without a dataset',
      );
    }
    return response.dataset;
  }

  close(): void {
    this.client.close();
  }
}
