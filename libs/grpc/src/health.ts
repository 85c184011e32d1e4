import { ErrorCode, UnderstudyError } from '@understudy/errors';
import {
  type Health,
  HealthCheckResponse_ServingStatus as WireStatus,
} from '@understudy/contracts';
import { settledOrAborted } from './signals.js';
import type { ServiceImpl } from './service-impl.js';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

/** The server as a whole, as the health protocol names it. */
export const overallService = '';

/**
 * Serving statuses by service name for `grpc.health.v1.Health`. Kubernetes probes call Check;
 * Watch streams every change. Once shut down everything reads NOT_SERVING for good.
 */
export class HealthRegistry {
  readonly #statuses = new Map<string, ServingStatus>();
  #changed = nextChange();
  #closed = false;

  set(service: string, status: ServingStatus): void {
    if (this.#closed || this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    this.#notify();
  }

  get(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  /** Marks every service NOT_SERVING and ends Watch streams once they have seen it. */
  shutdown(): void {
    for (const service of this.#statuses.keys()) this.#statuses.set(service, 'NOT_SERVING');
    this.#closed = true;
    this.#notify();
  }

  readonly impl: ServiceImpl<typeof Health> = {
    check: (request) => {
      const status = this.#statuses.get(request.service);
      if (status === undefined) {
        throw new UnderstudyError(ErrorCode.NotFound, `unknown service "${request.service}"`);
      }
      return { status: WireStatus[status] };
    },
    watch: (request, context) => this.#watch(request.service, context.signal),
  };

  async *#watch(service: string, signal: AbortSignal): AsyncGenerator<{ status: WireStatus }> {
    let last: WireStatus | undefined;
    while (!signal.aborted) {
      const [changed] = this.#changed;
      const status = this.#statuses.get(service);
      const current = status === undefined ? WireStatus.SERVICE_UNKNOWN : WireStatus[status];
      if (current !== last) {
        last = current;
        yield { status: current };
      }
      if (this.#closed) return;
      await settledOrAborted(changed, signal);
    }
  }

  #notify(): void {
    const [, resolve] = this.#changed;
    this.#changed = nextChange();
    resolve();
  }
}

/** A promise for the next change and the function that announces it. */
function nextChange(): [Promise<void>, () => void] {
  let announce = (): void => undefined;
  const changed = new Promise<void>((resolve) => {
    announce = resolve;
  });
  return [changed, announce];
}
