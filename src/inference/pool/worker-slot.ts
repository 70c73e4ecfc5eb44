// One place in the pool: a worker thread and the calls waiting on it. When the thread dies, or
// makes no progress for `hangTimeoutMs` while calls wait, every waiting call fails, the thread
// is replaced, and `generation` moves on so sessions pinned here know to load again.
import { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerData } from './protocol.js';

export interface SlotOptions {
  readonly hangTimeoutMs: number;
  readonly faults: boolean;
  /** Nice increment for the thread (and the onnxruntime threads it starts). */
  readonly nice: number;
  /** Told when the thread was lost (crash or hang), for logs and metrics. */
  readonly onLost?: (index: number, reason: string) => void;
}

interface Call {
  readonly isRun: boolean;
  resolve(message: FromWorker & { ok: true }): void;
  reject(err: Error): void;
}

/** Where the worker's code is: compiled .js next to this file, or .ts under tsx/vitest. */
function workerSource(): { source: string | URL; eval: boolean } {
  const here = import.meta.url;
  if (here.endsWith('.js')) return { source: new URL('./worker.js', here), eval: false };
  // Running from TypeScript sources (tests, bench): register tsx in the thread, then load it.
  const url = new URL('./worker.ts', here).href;
  return { source: `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })`, eval: true };
}

export class WorkerError extends Error {
  override readonly name = 'WorkerError';
}

export class WorkerSlot {
  /** Changes each time the thread is replaced; sessions loaded under an older one are gone. */
  generation = 0;
  private worker: Worker | undefined;
  private readonly calls = new Map<number, Call>();
  private nextId = 1;
  private watchdog: NodeJS.Timeout | undefined;
  private closed = false;
  /** Runs waiting on the thread: only they arm the hang watchdog (thread start-up and loads may be slow). */
  private runs = 0;

  constructor(
    readonly index: number,
    private readonly options: SlotOptions,
  ) {}

  get pending(): number {
    return this.calls.size;
  }

  /** Sends a request; resolves with the worker's answer, rejects with its error or its loss. */
  call(message: ToWorkerWithoutId, transfer: ArrayBuffer[] = []): Promise<FromWorker & { ok: true }> {
    if (this.closed) return Promise.reject(new WorkerError('the inference pool is closed'));
    const worker = this.worker ?? this.spawn();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const isRun = message.op === 'run';
      // Throws (a detached or uncloneable buffer) before anything is registered.
      worker.postMessage({ ...message, id } as ToWorker, transfer);
      this.calls.set(id, { isRun, resolve, reject });
      if (isRun && this.runs++ === 0) this.startWatchdog();
    });
  }

  private spawn(): Worker {
    const { source, eval: isEval } = workerSource();
    const data: WorkerData = { faults: this.options.faults, nice: this.options.nice };
    const worker = new Worker(source, { eval: isEval, workerData: data });
    // A pool left open must not keep a process alive; in-flight calls hold their own servers.
    worker.unref();
    worker.on('message', (msg: FromWorker) => this.settle(msg));
    worker.on('error', (err) => this.lose(worker, `crashed: ${err.message}`));
    worker.on('exit', (code) => this.lose(worker, `exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  private settle(msg: FromWorker): void {
    const call = this.calls.get(msg.id);
    if (!call) return;
    this.calls.delete(msg.id);
    if (call.isRun && --this.runs === 0) this.stopWatchdog();
    else this.watchdog?.refresh(); // progress: the next run gets a full timeout
    if (msg.ok) call.resolve(msg);
    else call.reject(new Error(msg.error));
  }

  private startWatchdog(): void {
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      const worker = this.worker;
      if (worker && this.runs > 0) {
        this.lose(worker, `made no progress for ${this.options.hangTimeoutMs} ms (a run hung)`);
        void worker.terminate();
      }
    }, this.options.hangTimeoutMs);
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog !== undefined) clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  /** The thread is gone (or abandoned): fail its calls; the next call starts a new one. */
  private lose(worker: Worker, reason: string): void {
    if (this.worker !== worker) return; // already replaced
    this.worker = undefined;
    this.generation++;
    this.runs = 0;
    this.stopWatchdog();
    const calls = [...this.calls.values()];
    this.calls.clear();
    if (!this.closed) this.options.onLost?.(this.index, reason);
    for (const call of calls) call.reject(new WorkerError(`inference worker ${this.index} ${reason}`));
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (worker) {
      this.lose(worker, 'closed');
      await worker.terminate();
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type ToWorkerWithoutId = DistributiveOmit<ToWorker, 'id'>;
