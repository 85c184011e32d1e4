import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { ModelRegistryService, type Dataset } from '@understudy/contracts';
import { createClient, type Client, type ClientOptions } from '@understudy/grpc';
import type { DatasetRegistry } from '../domain/ports.js';

/** The model registry over gRPC (`UNDERSTUDY_REGISTRY_ADDRESS`). */
export class GrpcDatasetRegistry implements DatasetRegistry {
  private readonly client: Client<typeof ModelRegistryService>;

  /** `options`: the token and TLS of `grpcClientOptions`; a 10 s deadline unless set. */
  constructor(address: string, options: ClientOptions = {}) {
    this.client = createClient(ModelRegistryService, address, { timeoutMs: 10_000, ...options });
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
