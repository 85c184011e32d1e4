import type { Embedding, LlmCall, StructuralSignature } from '@understudy/contracts';
import { EmbedderService } from '@understudy/contracts';
import { createClient, type Client } from '@understudy/grpc';

export interface CallDerivation {
  readonly signature: StructuralSignature | undefined;
  readonly embedding: Embedding | undefined;
}

/** Signature and embedding of a live call, computed the way captured calls were. */
export interface CallDeriver {
  derive(call: LlmCall, signal: AbortSignal): Promise<CallDerivation>;
  close(): void;
}

/** Asks the embedder over gRPC, so there is one featurizer and live calls share its space. */
export class GrpcCallDeriver implements CallDeriver {
  private readonly client: Client<typeof EmbedderService>;

  constructor(address: string, timeoutMs: number) {
    this.client = createClient(EmbedderService, address, { timeoutMs });
  }

  async derive(call: LlmCall, signal: AbortSignal): Promise<CallDerivation> {
    const { signature, embedding } = await this.client.embedCall({ call }, { signal });
    return { signature, embedding };
  }

  close(): void {
    this.client.close();
  }
}
