import { ErrorCode, UnderstudyError } from '@understudy/errors';

export interface CheckResult {
  readonly healthy: boolean;
  readonly detail?: string;
}

/** A readiness check; the signal aborts when the check runs past its timeout. */
export type ReadinessCheck = (signal: AbortSignal) => Promise<CheckResult>;

export interface CheckReport extends CheckResult {
  readonly durationMs: number;
}

export interface ReadinessReport {
  readonly ready: boolean;
  readonly shuttingDown: boolean;
  readonly checks: Readonly<Record<string, CheckReport>>;
}

export interface HealthRegistryOptions {
  /** How long one check may take before it counts as failed; 2 s by default. */
  readonly timeoutMs?: number;
}

interface Registration {
  readonly check: ReadinessCheck;
  readonly timeoutMs: number;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Named readiness checks that libraries and services register (broker connected, bucket
 * reachable…) and the shutdown flag that turns readiness off before anything else stops.
 */
export class HealthRegistry {
  private readonly checks = new Map<string, Registration>();
  private readonly timeoutMs: number;
  private shutdownStarted = false;
  private running: Promise<ReadinessReport> | undefined;

  constructor(options: HealthRegistryOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 2_000;
  }

  /** Adds a check; returns a function that removes it (for components that stop before the process). */
  register(name: string, check: ReadinessCheck, options: HealthRegistryOptions = {}): () => void {
    if (this.checks.has(name)) {
      throw new UnderstudyError(
        ErrorCode.AlreadyExists,
        `readiness check "${name}" is already registered`,
      );
    }
    const registration = { check, timeoutMs: options.timeoutMs ?? this.timeoutMs };
    this.checks.set(name, registration);
    return () => {
      if (this.checks.get(name) === registration) this.checks.delete(name);
    };
  }

  /**
   * This registry as seen by one of several services sharing a process: their checks are named
   * `scope/name`, so two services' `kafka` checks do not collide; everything else is shared.
   */
  scoped(scope: string): HealthRegistry {
    return new ScopedHealthRegistry(this, scope);
  }

  /** First step of a graceful shutdown: readiness fails from now on, so traffic drains away. */
  setShuttingDown(): void {
    this.shutdownStarted = true;
  }

  get shuttingDown(): boolean {
    return this.shutdownStarted;
  }

  /**
   * Runs every check concurrently, each bounded by its timeout; never rejects. Probes that
   * arrive while a run is in flight share it, so slow dependencies cannot pile up checks.
   */
  readiness(): Promise<ReadinessReport> {
    if (this.shutdownStarted) {
      return Promise.resolve({ ready: false, shuttingDown: true, checks: {} });
    }
    this.running ??= this.runChecks().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runChecks(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.checks].map(
        async ([name, registration]) => [name, await run(registration)] as const,
      ),
    );
    const checks = Object.fromEntries(entries);
    const ready = !this.shutdownStarted && entries.every(([, report]) => report.healthy);
    return { ready, shuttingDown: this.shutdownStarted, checks };
  }
}

class ScopedHealthRegistry extends HealthRegistry {
  constructor(
    private readonly parent: HealthRegistry,
    private readonly scope: string,
  ) {
    super();
  }

  override register(name: string, check: ReadinessCheck, options?: HealthRegistryOptions) {
    return this.parent.register(`${this.scope}/${name}`, check, options);
  }

  override setShuttingDown(): void {
    this.parent.setShuttingDown();
  }

  override get shuttingDown(): boolean {
    return this.parent.shuttingDown;
  }

  override readiness(): Promise<ReadinessReport> {
    return this.parent.readiness();
  }
}

async function run({ check, timeoutMs }: Registration): Promise<CheckReport> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve({ healthy: false, detail: `timed out after ${timeoutMs} ms` });
    }, timeoutMs);
  });
  try {
    // Started inside a promise so that a check throwing synchronously is reported, not thrown.
    const outcome = Promise.resolve()
      .then(() => check(controller.signal))
      .catch((error: unknown): CheckResult => ({ healthy: false, detail: describe(error) }));
    const { healthy, detail } = await Promise.race([outcome, timedOut]);
    const durationMs = Math.round(performance.now() - started);
    return detail === undefined ? { healthy, durationMs } : { healthy, detail, durationMs };
  } finally {
    clearTimeout(timer);
  }
}
