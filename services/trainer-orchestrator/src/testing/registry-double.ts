import { clone, create } from '@bufbuild/protobuf';
import {
  EvaluationSchema,
  ModelRegistryService,
  ModelVersionSchema,
  type CreateEvaluationRequest,
  type RegisterModelVersionRequest,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { GrpcServer, type ServiceImpl } from '@understudy/grpc';

/** A running double: where it listens, and what it received. */
export type RegistryDouble = RegistryCalls & {
  readonly address: string;
  readonly server: GrpcServer;
};

/** What the double received, in order. */
export interface RegistryCalls {
  readonly registered: RegisterModelVersionRequest[];
  readonly evaluations: CreateEvaluationRequest[];
  /** The `authorization` metadata of each call. */
  readonly authorizations: string[];
}

/** The teacher models of every dataset the double serves. */
export const registryDoubleTeachers = [
  { model: 'gpt-4o-2024-08-06', exampleCount: 40n },
  { model: 'claude-sonnet-4', exampleCount: 2n },
];

/**
 * A test double of the model registry's gRPC API, as the orchestrator uses it: records
 * RegisterModelVersion and CreateEvaluation (answering with ids derived from their request ids,
 * as the registry's idempotency would), serves GetDataset; anything else is UNIMPLEMENTED.
 */
export async function startRegistryDouble(): Promise<RegistryDouble> {
  const calls: RegistryCalls = { registered: [], evaluations: [], authorizations: [] };
  const unimplemented = Object.fromEntries(
    Object.keys(ModelRegistryService.method).map((name) => [
      name,
      () => {
        throw new UnderstudyError(ErrorCode.Unimplemented, name);
      },
    ]),
  ) as unknown as ServiceImpl<typeof ModelRegistryService>;
  const server = new GrpcServer({ host: '127.0.0.1', port: 0, shutdownTimeoutMs: 200 });
  server.register(ModelRegistryService, {
    ...unimplemented,
    registerModelVersion: (request, context) => {
      calls.authorizations.push(String(context.metadata.get('authorization')[0] ?? ''));
      calls.registered.push(request);
      const modelVersion = clone(
        ModelVersionSchema,
        request.modelVersion ?? create(ModelVersionSchema),
      );
      modelVersion.modelVersionId = `mv-${request.requestId}`;
      return { modelVersion };
    },
    createEvaluation: (request, context) => {
      calls.authorizations.push(String(context.metadata.get('authorization')[0] ?? ''));
      calls.evaluations.push(request);
      const evaluation = clone(EvaluationSchema, request.evaluation ?? create(EvaluationSchema));
      evaluation.evaluationId = `ev-${request.requestId}`;
      return { evaluation };
    },
    getDataset: (request) => ({
      dataset: {
        datasetId: request.datasetId,
        tenantId: request.tenantId,
        manifest: { bucket: 'understudy', key: `datasets/${request.datasetId}/manifest.json` },
        teacherModels: registryDoubleTeachers,
      },
    }),
  });
  const port = await server.start();
  return { ...calls, server, address: `127.0.0.1:${String(port)}` };
}
