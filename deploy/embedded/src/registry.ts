import { ModelRegistryService } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { createClient, type ClientOptions } from '@understudy/grpc';
import type { ServedModel } from './serving.js';

/** The registry names a version's adapter `understudy-<model version id>` at serving backends. */
const servingName = /^understudy-(.+)$/;

/**
 * Looks up the adapter behind a serving name in the registry, for the local serving endpoint;
 * `options` carry its token.
 */
export function resolveServedModel(
  registryAddress: string,
  tenantId: string,
  options: ClientOptions,
): (model: string) => Promise<ServedModel | undefined> {
  return async (model) => {
    const modelVersionId = servingName.exec(model)?.[1];
    if (modelVersionId === undefined) return undefined;
    const registry = createClient(ModelRegistryService, registryAddress, options);
    try {
      const { modelVersion } = await registry.getModelVersion({ tenantId, modelVersionId });
      const adapter = modelVersion?.adapter;
      if (modelVersion === undefined || adapter === undefined) return undefined;
      return {
        baseModel: modelVersion.baseModel || adapter.baseModel,
        adapterUri: `s3://${adapter.bucket}/${adapter.prefix.replace(/\/?$/, '/')}`,
      };
    } catch (error) {
      if (error instanceof UnderstudyError && error.code === ErrorCode.NotFound) return undefined;
      throw error;
    } finally {
      registry.close();
    }
  };
}
