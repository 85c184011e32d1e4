/** DI token of the CallDeriver (the embedder's gRPC client). */
export const CALL_DERIVER = Symbol('clusterer.CallDeriver');
