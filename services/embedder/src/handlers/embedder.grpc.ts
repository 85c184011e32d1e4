import { Inject, Injectable } from '@nestjs/common';
import {
  EmbedderService,
  type EmbedCallRequest,
  type EmbedCallResponseSchema,
} from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { GrpcService, type ServiceImpl } from '@understudy/grpc';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { CallEmbedder } from '../domain/call-embedder.js';

/** Live calls (the router asks before routing) take the same derivation as captured ones. */
@GrpcService(EmbedderService)
@Injectable()
export class EmbedderGrpc implements ServiceImpl<typeof EmbedderService> {
  constructor(@Inject(CallEmbedder) private readonly embedder: CallEmbedder) {}

  async embedCall(
    request: EmbedCallRequest,
  ): Promise<MessageInitShape<typeof EmbedCallResponseSchema>> {
    if (request.call === undefined) {
      throw new UnderstudyError(ErrorCode.InvalidArgument, 'call is required');
    }
    const { signature, embedding, contentHash } = await this.embedder.derive(request.call);
    return { signature, contentHash, ...(embedding && { embedding }) };
  }
}
