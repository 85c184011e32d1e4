/** The load clients (ingest-load.ts), each a child process, driven together. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromLoad, LoadOptions, LoadSnapshot, ToLoad } from './ingest-protocol.js';

const script = fileURLToPath(new URL('ingest-load.ts', import.meta.url));
const hooks = fileURLToPath(import.meta.resolve('@understudy/testbed/source-hooks'));

interface Pending {
  resolve(snapshot: LoadSnapshot): void;
  reject(error: Error): void;
}

class LoadClient {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, Pending>();
  private nextId = 0;
  private exited: Error | undefined;
  readonly ready: Promise<void>;

  constructor(options: LoadOptions) {
    this.child = fork(script, [JSON.stringify(options)], {
      execArgv: ['--import', hooks],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.ready = new Promise((resolve, reject) => {
      this.child.once('exit', (code) => {
        this.exited = new Error(`load client ${options.serviceName} exited (${String(code)})`);
        reject(this.exited);
        for (const pending of this.waiting.values()) pending.reject(this.exited);
      });
      this.child.on('message', (message: FromLoad) => {
        if (message.type === 'ready') resolve();
        else this.waiting.get(message.id)?.resolve(message.snapshot);
      });
    });
    // Awaited by LoadClients.start with the others; one failing must not go unhandled.
    this.ready.catch(() => undefined);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  send(message: ToLoad): void {
    if (this.exited) throw this.exited;
    this.child.send(message);
  }

  request(type: 'snapshot' | 'flush'): Promise<LoadSnapshot> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, {
        resolve: (snapshot) => {
          this.waiting.delete(id);
          resolve(snapshot);
        },
        reject,
      });
      this.send({ type, id });
    });
  }

  stop(): void {
    this.child.removeAllListeners('exit');
    if (this.child.connected) this.child.disconnect();
  }
}

export class LoadClients {
  private readonly clients: LoadClient[];

  private constructor(clients: LoadClient[]) {
    this.clients = clients;
  }

  static async start(options: readonly LoadOptions[]): Promise<LoadClients> {
    const clients = options.map((each) => new LoadClient(each));
    await Promise.all(clients.map((client) => client.ready));
    return new LoadClients(clients);
  }

  get pids(): number[] {
    return this.clients.map((client) => client.pid);
  }

  /** Shares `spansPerSecond` evenly between the clients. */
  setRate(spansPerSecond: number): void {
    for (const client of this.clients) {
      client.send({ type: 'rate', spansPerSecond: spansPerSecond / this.clients.length });
    }
  }

  snapshot(): Promise<LoadSnapshot[]> {
    return Promise.all(this.clients.map((client) => client.request('snapshot')));
  }

  /** Stops the load and waits until every queued span is exported. */
  flush(): Promise<LoadSnapshot[]> {
    return Promise.all(this.clients.map((client) => client.request('flush')));
  }

  stop(): void {
    for (const client of this.clients) client.stop();
  }
}
