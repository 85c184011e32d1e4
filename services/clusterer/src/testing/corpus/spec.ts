import type { JsonObject } from '@bufbuild/protobuf';
import type { Random } from './random.js';

/** What one call sends and gets back, apart from its system instructions. */
export interface Exchange {
  readonly user: string;
  /** A tool's result, sent back to the model in a tool message. */
  readonly toolResult?: string;
  /** The model's answer: text, or a call of one of the offered tools. */
  readonly output: string | { readonly tool: string; readonly arguments: string };
}

export type OutputFormat =
  'text' | 'json_object' | { readonly schemaName: string; readonly schema: JsonObject };

/** How an agent makes a task's calls: one prompt template, one set of tools, one output format. */
export interface Deployment {
  readonly service: string;
  readonly agent: string;
  readonly workflow?: string;
  readonly step?: string;
  /** The system instructions, with this call's variables filled in. */
  readonly system: (random: Random) => string;
  readonly tools?: readonly string[];
  readonly format: OutputFormat;
  readonly model: string;
  /** Share among the task's deployments serving on a day; 1 unless set. */
  readonly share?: number;
  /** Days [from, to) the deployment serves; every day unless set. */
  readonly days?: readonly [number, number];
  /** Probability that a call's content is captured; 1 unless set. */
  readonly contentCapture?: number;
}

/** A ground-truth task: one job, done by one or more deployments. */
export interface TaskSpec {
  /** The label every call of the task carries, e.g. `support.route`. */
  readonly task: string;
  /** The kind of agent system it belongs to, e.g. `support-desk`. */
  readonly archetype: string;
  /** Relative calls per day. */
  readonly weight: number;
  /** Days [from, to) the task receives calls; every day unless set. */
  readonly days?: readonly [number, number];
  readonly deployments: readonly Deployment[];
  readonly exchange: (random: Random) => Exchange;
}
