import {
  ModelRegistryService,
  type Evaluation,
  type ModelVersion,
  type TeacherModel,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { createClient, type Client, type ClientOptions } from '@understudy/grpc';

/** Where succeeded runs' adapters become model versions, with their evaluations. */
export interface ModelRegistry {
  /** Registers a model version, idempotent by request id; resolves with its id. */
  registerModelVersion(requestId: string, modelVersion: ModelVersion): Promise<string>;
  /** Records an evaluation of a model version, idempotent by request id; resolves with its id. */
  createEvaluation(requestId: string, evaluation: Evaluation): Promise<string>;
  /** The `s3://` URI of a dataset's manifest; NOT_FOUND for another tenant's dataset. */
  datasetManifestUri(tenantId: string, datasetId: string): Promise<string>;
  /**
   * The LLMs whose answers a dataset's examples hold, most examples first; empty for a dataset
   * built before datasets recorded them.
   */
  teacherModels(tenantId: string, datasetId: string): Promise<TeacherModel[]>;
  close(): void;
}

/** The model registry's gRPC API (`UNDERSTUDY_REGISTRY_ADDRESS`). */
export class GrpcModelRegistry implements ModelRegistry {
  private readonly client: Client<typeof ModelRegistryService>;

  /** `options`: the token and TLS of `grpcClientOptions`; a 10 s deadline unless set. */
  constructor(address: string, options: ClientOptions = {}) {
    this.client = createClient(ModelRegistryService, address, { timeoutMs: 10_000, ...options });
  }

  async registerModelVersion(requestId: string, modelVersion: ModelVersion): Promise<string> {
    const response = await this.client.registerModelVersion({ requestId, modelVersion });
    return response.modelVersion?.modelVersionId ?? '';
  }

  async createEvaluation(requestId: string, evaluation: Evaluation): Promise<string> {
    const response = await this.client.createEvaluation({ requestId, evaluation });
    return response.evaluation?.evaluationId ?? '';
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

  async teacherModels(tenantId: string, datasetId: string): Promise<TeacherModel[]> {
    const { dataset } = await this.client.getDataset({ tenantId, datasetId });
    return dataset?.teacherModels ?? [];
  }

  close(): void {
    this.client.close();
  }
}
