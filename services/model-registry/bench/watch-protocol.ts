/** Messages between bench/watch-fanout.ts and its subscriber processes. */

export interface SubscriberOptions {
  readonly address: string;
  readonly tenantId: string;
  readonly count: number;
  readonly metadata: Readonly<Record<string, string>>;
}

export type FromSubscribers =
  | { readonly type: 'ready' }
  /** Every subscriber of the process has the change at `revision`; times as epoch ms. */
  | {
      readonly type: 'seen';
      readonly revision: string;
      readonly first: number;
      readonly last: number;
    }
  | { readonly type: 'failed'; readonly error: string };
