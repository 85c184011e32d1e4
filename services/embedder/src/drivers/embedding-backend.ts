/**
 * Turns texts into unit vectors. One implementation per runtime (the model-free featurizer, an
 * ONNX model in process, an OpenAI-compatible server); the service picks one at boot. Every
 * failure is an `UnderstudyError`: an unreachable or overloaded runtime is retryable, a request
 * it refuses is not.
 */
export interface EmbeddingBackend {
  /**
   * Names the vector space, e.g. `all-MiniLM-L6-v2`: vectors of different models never compare,
   * so everything that changes the vectors (weights, featurizer version, IDF table) is in it.
   */
  readonly model: string;
  /** The runtime, e.g. `onnxruntime-node-q8`; equal models on other runtimes differ slightly. */
  readonly backend: string;
  /** Loads the model or checks the server; called once before the first `embed`. */
  init(): Promise<void>;
  /** One L2-normalised vector per text, in order. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}
