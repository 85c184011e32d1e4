/** DI token of the CallDeriver (the embedder's gRPC client). */
export const CALL_DERIVER = Symbol('clusterer.CallDeriver');

/** DI token of the price table costs and savings are computed with. */
export const PRICE_TABLE = Symbol('clusterer.PriceTable');
