/** bench/ingest.ts's command line. */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Total offered load per step, spans per second, shared evenly by the clients. */
  readonly rates: readonly number[];
  readonly stepSeconds: number;
  readonly warmupSeconds: number;
  readonly repeats: number;
  readonly clients: number;
  readonly chatsPerTrace: number;
  readonly chatBytes: number;
  /** The share of messages with PII from the redaction corpus; the rest is prose. */
  readonly piiShare: number;
  /** BatchSpanProcessor: maxExportBatchSize, maxQueueSize, scheduledDelayMillis. */
  readonly batch: number;
  readonly queue: number;
  readonly delayMs: number;
  /** Saturated steps to run before a run stops stepping up. */
  readonly saturatedSteps: number;
  readonly profile: boolean;
  /** Default: the knee. */
  readonly profileRate: number | undefined;
  readonly profileSeconds: number;
  /** The edge alone, the joiner and archive replaced by idle stand-ins. */
  readonly edgeOnly: boolean;
  readonly out: string | undefined;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rates: { type: 'string', default: '500,1000,1500,2000,3000,4000,6000,8000,10000,12000' },
      'step-seconds': { type: 'string', default: '20' },
      'warmup-seconds': { type: 'string', default: '5' },
      repeats: { type: 'string', default: '3' },
      clients: { type: 'string', default: '4' },
      'chats-per-trace': { type: 'string', default: '4' },
      'chat-bytes': { type: 'string', default: '4096' },
      'pii-share': { type: 'string', default: '0.25' },
      batch: { type: 'string', default: '512' },
      queue: { type: 'string', default: '2048' },
      'delay-ms': { type: 'string', default: '5000' },
      'saturated-steps': { type: 'string', default: '1' },
      'profile-rate': { type: 'string' },
      'profile-seconds': { type: 'string', default: '30' },
      'no-profile': { type: 'boolean', default: false },
      'edge-only': { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  const positive = (name: string, text: string | undefined): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) {
      throw new Error(`--${name} must be a positive number, got ${String(text)}`);
    }
    return value;
  };
  const share = (name: string, text: string): number => {
    const value = Number(text);
    if (!(value >= 0 && value <= 1)) throw new Error(`--${name} must be between 0 and 1`);
    return value;
  };
  const profileRate = values['profile-rate'];
  return {
    rates: values.rates.split(',').map((rate) => positive('rates', rate.trim())),
    stepSeconds: positive('step-seconds', values['step-seconds']),
    warmupSeconds: positive('warmup-seconds', values['warmup-seconds']),
    repeats: positive('repeats', values.repeats),
    clients: positive('clients', values.clients),
    chatsPerTrace: positive('chats-per-trace', values['chats-per-trace']),
    chatBytes: positive('chat-bytes', values['chat-bytes']),
    piiShare: share('pii-share', values['pii-share']),
    batch: positive('batch', values.batch),
    queue: positive('queue', values.queue),
    delayMs: positive('delay-ms', values['delay-ms']),
    saturatedSteps: positive('saturated-steps', values['saturated-steps']),
    profile: !values['no-profile'],
    profileRate: profileRate === undefined ? undefined : positive('profile-rate', profileRate),
    profileSeconds: positive('profile-seconds', values['profile-seconds']),
    edgeOnly: values['edge-only'],
    out: values.out,
  };
}
