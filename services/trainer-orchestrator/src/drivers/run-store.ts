import type { Run, RunState } from '../domain/run.js';

export interface RunFilter {
  readonly tenantId: string;
  readonly taskId?: string;
  readonly datasetId?: string;
  readonly states?: readonly RunState[];
  readonly limit: number;
  /** Runs created before this one (keyset paging, newest first). */
  readonly after?: { readonly createdAt: Date; readonly runId: string };
}

/** Where runs are kept; every write checks the run's version (optimistic concurrency). */
export interface RunStore {
  /** Inserts the run, or returns the one already holding its (tenant, request id). */
  create(run: Run): Promise<{ run: Run; created: boolean }>;
  get(tenantId: string, runId: string): Promise<Run | undefined>;
  /** Stores `run` if the stored version is still `run.version`; ABORTED otherwise. */
  update(run: Run): Promise<Run>;
  list(filter: RunFilter): Promise<Run[]>;
  /** Runs the orchestrator must still drive: unfinished, unannounced or unregistered. */
  pending(): Promise<Run[]>;
}
