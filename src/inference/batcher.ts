// Dynamic batching: concurrent requests for one loaded version are stacked along dimension 0
// into one run and the outputs split back, so each caller gets exactly its rows. A request waits
// at most `maxDelayMs` for company (its batch runs on size or on time, whichever comes first).
// Requests arrive here already checked against the signature (codec.ts encodeInputs), so a bad
// input has failed alone before it could join; requests whose non-batch dimensions or output
// selections differ go into different batches. When a batched run fails, each of its requests
// is run again alone, so one request whose values break the model (a bad index, say) fails
// alone and the others still get their answers.
import type { TensorData } from './dtypes.js';
import type { HostTensor, ModelSession, Signature } from './session.js';

/** The registry's `batching` (registry/revision.ts BatchingPolicy), restated to keep inference a leaf. */
export interface BatchPolicy {
  readonly maxBatchSize: number;
  readonly maxDelayMs: number;
}

type Feeds = Readonly<Record<string, HostTensor>>;
type Outputs = Record<string, HostTensor>;
type RunFn = (feeds: Feeds, outputs: readonly string[]) => Promise<Outputs>;
type Typed = Exclude<TensorData, string[]>;

/** setTimeout/clearTimeout, replaceable so tests can drive the clock. */
export interface BatchTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const REAL_TIMERS: BatchTimers = {
  // 0 ms still lets requests that arrive in the same turn of the event loop share a run.
  set: (fn, ms) => (ms <= 0 ? { immediate: setImmediate(fn) } : { timeout: setTimeout(fn, ms) }),
  clear: (handle) => {
    const h = handle as { immediate?: NodeJS.Immediate; timeout?: NodeJS.Timeout };
    if (h.immediate) clearImmediate(h.immediate);
    if (h.timeout) clearTimeout(h.timeout);
  },
};

export interface BatcherOptions {
  readonly policy: BatchPolicy;
  readonly run: RunFn;
  /** Told the rows of every run the batcher makes (not of the retries after a failed batch). */
  readonly onBatch?: (rows: number) => void;
  /** Told once if the model's outputs cannot be split by rows; batching is then off for good. */
  readonly onUnsplittable?: (reason: string) => void;
  readonly timers?: BatchTimers;
}

interface Member {
  readonly feeds: Feeds;
  readonly rows: number;
  readonly resolve: (out: Outputs) => void;
  readonly reject: (err: unknown) => void;
}

interface OpenBatch {
  readonly key: string;
  readonly outputs: readonly string[];
  readonly members: Member[];
  rows: number;
  timer: unknown;
}

/** Why this signature cannot be batched (an input without a dynamic first dimension), or undefined. */
export function unbatchableReason(signature: Signature): string | undefined {
  for (const input of signature.inputs) {
    const first = input.shape[0];
    if (input.shape.length === 0) return `input "${input.name}" declares no shape`;
    if (typeof first === 'number' && first >= 0) return `input "${input.name}" has a fixed first dimension (${first})`;
  }
  return undefined;
}

/** The rows a request contributes: the first dimension all its inputs share, else undefined. */
function rowsOf(feeds: Feeds): number | undefined {
  let rows: number | undefined;
  for (const t of Object.values(feeds)) {
    const first = t.dims[0];
    if (first === undefined || (rows !== undefined && first !== rows)) return undefined;
    rows = first;
  }
  return rows;
}

/** Requests with the same key can be stacked: same inputs, types, non-batch dims and outputs. */
function batchKey(feeds: Feeds, outputs: readonly string[]): string {
  let key = outputs.join('\u0000');
  for (const [name, t] of Object.entries(feeds)) key += `\u0001${name}\u0000${t.type}\u0000${t.dims.slice(1).join(',')}`;
  return key;
}

function concat(parts: readonly TensorData[]): TensorData {
  const first = parts[0];
  if (first === undefined || Array.isArray(first)) return ([] as string[]).concat(...(parts as string[][]));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new (first.constructor as new (length: number) => Typed)(total);
  let at = 0;
  for (const p of parts as Typed[]) {
    (out as { set(a: ArrayLike<number | bigint>, offset: number): void }).set(p, at);
    at += p.length;
  }
  return out;
}

function stack(members: readonly Member[]): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  const rows = members.reduce((n, m) => n + m.rows, 0);
  const first = members[0]?.feeds ?? {};
  for (const [name, t] of Object.entries(first)) {
    feeds[name] = { type: t.type, dims: [rows, ...t.dims.slice(1)], data: concat(members.map((m) => (m.feeds[name] as HostTensor).data)) };
  }
  return feeds;
}

/** Each member's rows of every output, copied so no caller holds a view of another's buffer. */
function split(out: Outputs, members: readonly Member[], rows: number): Outputs[] {
  const parts: Outputs[] = members.map(() => ({}));
  for (const [name, t] of Object.entries(out)) {
    if (t.dims[0] !== rows) throw new Unsplittable(`output "${name}" has shape [${t.dims.join(', ')}], not ${rows} rows`);
    const perRow = t.dims.slice(1).reduce((a, b) => a * b, 1);
    let start = 0;
    members.forEach((m, i) => {
      const end = start + m.rows * perRow;
      (parts[i] as Outputs)[name] = { type: t.type, dims: [m.rows, ...t.dims.slice(1)], data: t.data.slice(start, end) as TensorData };
      start = end;
    });
  }
  return parts;
}

class Unsplittable extends Error {}

export class Batcher {
  private readonly open = new Map<string, OpenBatch>();
  private readonly timers: BatchTimers;
  private splittable = true;

  constructor(private readonly options: BatcherOptions) {
    this.timers = options.timers ?? REAL_TIMERS;
  }

  run(feeds: Feeds, outputs: readonly string[]): Promise<Outputs> {
    const rows = rowsOf(feeds);
    const { maxBatchSize, maxDelayMs } = this.options.policy;
    // Inputs that disagree on their first dimension cannot be split back; more rows than a batch
    // holds run as they are (never refused: batching is an optimisation, not a limit).
    if (!this.splittable || rows === undefined || rows === 0 || rows > maxBatchSize) {
      if (this.splittable && rows !== undefined && rows > 0) this.options.onBatch?.(rows);
      return this.options.run(feeds, outputs);
    }
    const key = batchKey(feeds, outputs);
    let batch = this.open.get(key);
    if (batch && batch.rows + rows > maxBatchSize) {
      this.flush(batch);
      batch = undefined;
    }
    if (!batch) {
      const created: OpenBatch = { key, outputs, members: [], rows: 0, timer: undefined };
      created.timer = this.timers.set(() => this.flush(created), maxDelayMs);
      this.open.set(key, created);
      batch = created;
    }
    const target = batch;
    return new Promise<Outputs>((resolve, reject) => {
      target.members.push({ feeds, rows, resolve, reject });
      target.rows += rows;
      if (target.rows >= maxBatchSize) this.flush(target);
    });
  }

  /** Requests waiting for company now (for tests and shutdown). */
  get waiting(): number {
    let n = 0;
    for (const b of this.open.values()) n += b.members.length;
    return n;
  }

  private flush(batch: OpenBatch): void {
    if (this.open.get(batch.key) !== batch) return; // already flushed (size and timer raced)
    this.open.delete(batch.key);
    this.timers.clear(batch.timer);
    void this.execute(batch);
  }

  private async execute(batch: OpenBatch): Promise<void> {
    const { members, outputs, rows } = batch;
    this.options.onBatch?.(rows);
    if (members.length === 1) {
      const only = members[0] as Member;
      this.options.run(only.feeds, outputs).then(only.resolve, only.reject);
      return;
    }
    let parts: Outputs[];
    try {
      parts = split(await this.options.run(stack(members), outputs), members, rows);
    } catch (err) {
      if (err instanceof Unsplittable && this.splittable) {
        this.splittable = false;
        this.options.onUnsplittable?.(err.message);
      }
      // Alone, each request gets its own answer or its own error.
      for (const m of members) this.options.run(m.feeds, outputs).then(m.resolve, m.reject);
      return;
    }
    members.forEach((m, i) => m.resolve(parts[i] as Outputs));
  }
}

export interface BatchingHooks {
  /** Rows of one run of a batching version (the gateway_batch_size histogram). */
  onBatch(model: string, version: string, rows: number): void;
  warn(obj: object, msg: string): void;
  readonly timers?: BatchTimers;
}

interface Slot {
  readonly policy: BatchPolicy;
  /** Undefined when the model cannot be batched: its requests run as they come. */
  readonly batcher: Batcher | undefined;
}

/**
 * One batcher per loaded session of a batching version, made on its first run (when the
 * signature is checked: inputs without a dynamic first dimension are served unbatched, with a
 * warning). Keyed by session, so a reloaded or evicted session takes its batcher with it.
 */
export class Batchers {
  private readonly bySession = new WeakMap<ModelSession, Slot>();

  constructor(private readonly hooks: BatchingHooks) {}

  run(session: ModelSession, model: string, version: string, policy: BatchPolicy | undefined, feeds: Feeds, outputs: readonly string[]): Promise<Outputs> {
    if (policy === undefined) return session.run(feeds, outputs);
    let slot = this.bySession.get(session);
    if (slot === undefined || slot.policy.maxBatchSize !== policy.maxBatchSize || slot.policy.maxDelayMs !== policy.maxDelayMs) {
      slot = { policy, batcher: this.create(session, model, version, policy) };
      this.bySession.set(session, slot);
    }
    return slot.batcher ? slot.batcher.run(feeds, outputs) : session.run(feeds, outputs);
  }

  private create(session: ModelSession, model: string, version: string, policy: BatchPolicy): Batcher | undefined {
    const reason = unbatchableReason(session.signature);
    if (reason !== undefined) {
      this.hooks.warn({ event: 'batching_off', model, version, reason }, 'batching is configured but the model cannot be batched; serving unbatched');
      return undefined;
    }
    // Probed on single rows it might look tiny, but its batches grow with load: off the event loop.
    session.keepOnWorker?.();
    return new Batcher({
      policy,
      run: (feeds, outputs) => session.run(feeds, outputs),
      onBatch: (rows) => this.hooks.onBatch(model, version, rows),
      onUnsplittable: (why) =>
        this.hooks.warn({ event: 'batching_off', model, version, reason: why }, 'batched outputs cannot be split by rows; serving unbatched'),
      ...(this.hooks.timers === undefined ? {} : { timers: this.hooks.timers }),
    });
  }
}
