/** Nest injection tokens of the service's drivers (interfaces have no runtime identity). */
export const DATASET_STORE = Symbol('dataset-builder.DatasetStore');
export const OBJECT_STORE = Symbol('dataset-builder.ObjectStore');
export const DATA_SOURCE = Symbol('dataset-builder.DataSource');
export const REGISTRY = Symbol('dataset-builder.DatasetRegistry');
export const TASK_CALLS = Symbol('dataset-builder.TaskCalls');
