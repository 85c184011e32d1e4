/** DI tokens of the drivers chosen from config. */
export const EXECUTOR = Symbol('trainer-orchestrator.Executor');
export const REGISTRY = Symbol('trainer-orchestrator.ModelRegistry');
export const RUN_STORE = Symbol('trainer-orchestrator.RunStore');
