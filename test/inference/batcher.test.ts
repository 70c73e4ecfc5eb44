import { describe, expect, it } from 'vitest';
import { Batcher, Batchers, unbatchableReason, type BatchTimers } from '../../src/inference/batcher.js';
import type { HostTensor, ModelSession, Signature } from '../../src/inference/session.js';

/** y = W x per row, W 3×4 with small integers so every answer is exact in float32. */
const W = [
  [1, 0, 0, 0],
  [0, 2, 0, 0],
  [1, 1, 1, -1],
];
const expectedRow = (x: readonly number[]): number[] => W.map((w) => w.reduce((s, wi, i) => s + wi * (x[i] ?? NaN), 0));

/** A model in plain JavaScript that counts its runs, records their rows and fails on demand. */
class LinearSession implements ModelSession {
  readonly signature: Signature = {
    inputs: [{ name: 'x', isTensor: true, type: 'float32', shape: ['batch', 4] }],
    outputs: [
      { name: 'y', isTensor: true, type: 'float32', shape: ['batch', 3] },
      { name: 'n', isTensor: true, type: 'float32', shape: ['batch', 1] },
    ],
  };
  readonly runs: number[] = [];
  /** A run whose input holds this value fails (as a bad index would inside a real model). */
  poison = 666;
  /** When set, the 'y' output has this many rows whatever the input (an output not split by rows). */
  fixedRows: number | undefined;

  async run(feeds: Readonly<Record<string, HostTensor>>, outputs: readonly string[]): Promise<Record<string, HostTensor>> {
    const x = feeds.x as HostTensor;
    const rows = x.dims[0] ?? 0;
    this.runs.push(rows);
    await Promise.resolve();
    const data = x.data as Float32Array;
    if (data.includes(this.poison)) throw new Error('index out of range');
    const outRows = this.fixedRows ?? rows;
    const y = new Float32Array(outRows * 3);
    for (let r = 0; r < outRows; r++) {
      const row = Array.from(data.subarray(r * 4, r * 4 + 4));
      y.set(expectedRow(row), r * 3);
    }
    const out: Record<string, HostTensor> = {};
    if (outputs.includes('y')) out.y = { type: 'float32', dims: [outRows, 3], data: y };
    if (outputs.includes('n')) out.n = { type: 'float32', dims: [rows, 1], data: Float32Array.from({ length: rows }, (_, r) => r) };
    return out;
  }

  async release(): Promise<void> {}
}

/** A clock the test moves by hand. */
class ManualTimers implements BatchTimers {
  now = 0;
  private pending: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 0;
  set(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.push({ at: this.now + ms, fn, id });
    return id;
  }
  clear(handle: unknown): void {
    this.pending = this.pending.filter((p) => p.id !== handle);
  }
  advance(ms: number): void {
    this.now += ms;
    const due = this.pending.filter((p) => p.at <= this.now);
    this.pending = this.pending.filter((p) => p.at > this.now);
    for (const p of due) p.fn();
  }
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** `rows` rows for caller `c`, each row distinct: [c, r, c + r, 1]. */
function rowsFor(c: number, rows: number): number[][] {
  return Array.from({ length: rows }, (_, r) => [c, r, c + r, 1]);
}
function feedsOf(rows: number[][]): Record<string, HostTensor> {
  return { x: { type: 'float32', dims: [rows.length, 4], data: Float32Array.from(rows.flat()) } };
}
function rowsOfOutput(t: HostTensor | undefined): number[][] {
  if (!t) throw new Error('missing output');
  const width = t.dims[1] ?? 0;
  const data = Array.from(t.data as Float32Array);
  return Array.from({ length: t.dims[0] ?? 0 }, (_, r) => data.slice(r * width, (r + 1) * width));
}

function setup(maxBatchSize: number, maxDelayMs: number) {
  const session = new LinearSession();
  const timers = new ManualTimers();
  const batches: number[] = [];
  const unsplittable: string[] = [];
  const batcher = new Batcher({
    policy: { maxBatchSize, maxDelayMs },
    run: (feeds, outputs) => session.run(feeds, outputs),
    onBatch: (rows) => batches.push(rows),
    onUnsplittable: (why) => unsplittable.push(why),
    timers,
  });
  return { session, timers, batches, unsplittable, batcher };
}

describe('Batcher', () => {
  it('stacks callers sending 1, 3 and 5 rows into one run and gives each exactly its rows', async () => {
    const { session, timers, batches, batcher } = setup(16, 10);
    const sizes = [1, 3, 5];
    const answers = sizes.map((n, c) => batcher.run(feedsOf(rowsFor(c + 1, n)), ['y']));
    await settle();
    expect(session.runs).toEqual([]); // waiting for company
    timers.advance(10);
    const results = await Promise.all(answers);
    expect(session.runs).toEqual([9]);
    expect(batches).toEqual([9]);
    results.forEach((out, c) => {
      expect(out.y?.dims).toEqual([sizes[c], 3]);
      expect(rowsOfOutput(out.y)).toEqual(rowsFor(c + 1, sizes[c] ?? 0).map(expectedRow));
    });
  });

  it('runs as soon as the batch is full, without waiting for the delay, and starts the next batch', async () => {
    const { session, batches, batcher } = setup(4, 1_000);
    const first = [1, 2, 3, 4].map((c) => batcher.run(feedsOf(rowsFor(c, 1)), ['y']));
    const results = await Promise.all(first);
    expect(session.runs).toEqual([4]);
    expect(results.map((r) => rowsOfOutput(r.y))).toEqual([1, 2, 3, 4].map((c) => rowsFor(c, 1).map(expectedRow)));
    // 3 rows wait; 2 more would overflow 4, so the 3 go alone and the 2 start a new batch.
    void batcher.run(feedsOf(rowsFor(5, 3)), ['y']);
    void batcher.run(feedsOf(rowsFor(6, 2)), ['y']);
    await settle();
    expect(batches).toEqual([4, 3]);
    expect(batcher.waiting).toBe(1);
  });

  it('never holds a lone request longer than maxDelayMs', async () => {
    const { session, timers, batcher } = setup(8, 50);
    let answered = false;
    const answer = batcher.run(feedsOf(rowsFor(7, 2)), ['y']).then((out) => {
      answered = true;
      return out;
    });
    timers.advance(49);
    await settle();
    expect(answered).toBe(false);
    timers.advance(1);
    const out = await answer;
    expect(session.runs).toEqual([2]);
    expect(rowsOfOutput(out.y)).toEqual(rowsFor(7, 2).map(expectedRow));
  });

  it('counts the delay from the first caller: a later one does not push the batch back', async () => {
    const { session, timers, batcher } = setup(8, 50);
    const first = batcher.run(feedsOf(rowsFor(1, 1)), ['y']);
    timers.advance(30);
    await settle();
    const second = batcher.run(feedsOf(rowsFor(2, 2)), ['y']);
    timers.advance(19);
    await settle();
    expect(session.runs).toEqual([]);
    timers.advance(1); // 50 ms after the first caller, 20 after the second
    await settle();
    expect(session.runs).toEqual([3]);
    const [a, b] = await Promise.all([first, second]);
    expect(rowsOfOutput(a.y)).toEqual(rowsFor(1, 1).map(expectedRow));
    expect(rowsOfOutput(b.y)).toEqual(rowsFor(2, 2).map(expectedRow));
  });

  it('answers a lone request within maxDelayMs and a small margin on the real clock', async () => {
    const session = new LinearSession();
    // Long enough that twice the delay is beyond any timer slip of a loaded CI machine.
    const batcher = new Batcher({ policy: { maxBatchSize: 8, maxDelayMs: 150 }, run: (f, o) => session.run(f, o) });
    const started = performance.now();
    const out = await batcher.run(feedsOf(rowsFor(1, 1)), ['y']);
    const elapsed = performance.now() - started;
    expect(rowsOfOutput(out.y)).toEqual(rowsFor(1, 1).map(expectedRow));
    expect(elapsed).toBeGreaterThanOrEqual(145);
    expect(elapsed).toBeLessThan(150 + 120);
  });

  it('keeps requests with different output selections or non-batch dimensions in different batches', async () => {
    const { session, timers, batcher } = setup(16, 5);
    const onlyY = batcher.run(feedsOf(rowsFor(1, 1)), ['y']);
    const both = batcher.run(feedsOf(rowsFor(2, 2)), ['y', 'n']);
    const onlyY2 = batcher.run(feedsOf(rowsFor(3, 1)), ['y']);
    const wide: Record<string, HostTensor> = { x: { type: 'float32', dims: [1, 5], data: new Float32Array(5) } };
    const other = batcher.run(wide, ['n']);
    timers.advance(5);
    const [a, b, c, d] = await Promise.all([onlyY, both, onlyY2, other]);
    expect(session.runs.sort()).toEqual([1, 2, 2]);
    expect(Object.keys(a ?? {})).toEqual(['y']);
    expect(Object.keys(b ?? {}).sort()).toEqual(['n', 'y']);
    expect(rowsOfOutput(b?.n)).toEqual([[0], [1]]);
    expect(rowsOfOutput(c?.y)).toEqual(rowsFor(3, 1).map(expectedRow));
    expect(d?.n?.dims).toEqual([1, 1]);
  });

  it('when a batched run fails, runs each request alone: the bad one fails, the others are answered', async () => {
    const { session, timers, batcher } = setup(16, 5);
    const good1 = batcher.run(feedsOf(rowsFor(1, 2)), ['y']);
    const bad = batcher.run(feedsOf([[666, 0, 0, 0]]), ['y']);
    const good2 = batcher.run(feedsOf(rowsFor(3, 3)), ['y']);
    timers.advance(5);
    const settled = await Promise.allSettled([good1, bad, good2]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toEqual(new Error('index out of range'));
    expect(rowsOfOutput((settled[0] as PromiseFulfilledResult<Record<string, HostTensor>>).value.y)).toEqual(rowsFor(1, 2).map(expectedRow));
    expect(rowsOfOutput((settled[2] as PromiseFulfilledResult<Record<string, HostTensor>>).value.y)).toEqual(rowsFor(3, 3).map(expectedRow));
    expect(session.runs).toEqual([6, 2, 1, 3]);
  });

  it('stacks string and int64 inputs and splits string and int64 outputs back by rows', async () => {
    // Echoes its inputs: each caller must get back exactly the strings and 64-bit integers it sent.
    const runs: number[] = [];
    const timers = new ManualTimers();
    const batcher = new Batcher({
      policy: { maxBatchSize: 16, maxDelayMs: 10 },
      timers,
      async run(feeds) {
        const name = feeds.name as HostTensor;
        const id = feeds.id as HostTensor;
        runs.push(name.dims[0] ?? 0);
        return { name: { ...name }, id: { ...id } };
      },
    });
    const callers = [
      { names: [['ada'], ['bo']], ids: [9007199254740993n, -1n] },
      { names: [['é']], ids: [42n] },
      { names: [['x'], [''], ['zz']], ids: [1n, 2n, 3n] },
    ];
    const answers = callers.map(({ names, ids }) =>
      batcher.run(
        {
          name: { type: 'string', dims: [names.length, 1], data: names.flat() },
          id: { type: 'int64', dims: [ids.length], data: BigInt64Array.from(ids) },
        },
        ['name', 'id'],
      ),
    );
    timers.advance(10);
    const results = await Promise.all(answers);
    expect(runs).toEqual([6]);
    callers.forEach(({ names, ids }, i) => {
      const out = results[i];
      expect(out?.name).toEqual({ type: 'string', dims: [names.length, 1], data: names.flat() });
      expect(out?.id?.dims).toEqual([ids.length]);
      expect(Array.from(out?.id?.data as BigInt64Array)).toEqual(ids);
    });
  });

  it('runs a request with more rows than a batch holds at once, alone', async () => {
    const { session, batcher } = setup(4, 1_000);
    const out = await batcher.run(feedsOf(rowsFor(1, 6)), ['y']);
    expect(session.runs).toEqual([6]);
    expect(rowsOfOutput(out.y)).toEqual(rowsFor(1, 6).map(expectedRow));
  });

  it('turns itself off when outputs cannot be split by rows, still answering every caller correctly', async () => {
    const { session, timers, unsplittable, batcher } = setup(16, 5);
    session.fixedRows = 1; // 'y' always has one row: a batch of 3 rows cannot be split
    const answers = [1, 2].map((c) => batcher.run(feedsOf(rowsFor(c, c === 1 ? 1 : 2)), ['y']));
    timers.advance(5);
    const results = await Promise.all(answers);
    expect(unsplittable).toEqual(['output "y" has shape [1, 3], not 3 rows']);
    expect(results.map((r) => r.y?.dims)).toEqual([[1, 3], [1, 3]]);
    session.runs.length = 0;
    await batcher.run(feedsOf(rowsFor(3, 1)), ['y']); // no waiting now
    expect(session.runs).toEqual([1]);
  });
});

describe('Batchers', () => {
  const hooks = () => {
    const warnings: object[] = [];
    const batches: Array<[string, string, number]> = [];
    return { warnings, batches, onBatch: (m: string, v: string, rows: number) => batches.push([m, v, rows]), warn: (obj: object) => warnings.push(obj) };
  };

  it('batches a version with a policy and leaves one without alone', async () => {
    const h = hooks();
    const batchers = new Batchers(h);
    const session = new LinearSession();
    const policy = { maxBatchSize: 8, maxDelayMs: 5 };
    await Promise.all([1, 2, 3].map((c) => batchers.run(session, 'm', '1', policy, feedsOf(rowsFor(c, 1)), ['y'])));
    expect(session.runs).toEqual([3]);
    await Promise.all([1, 2].map((c) => batchers.run(session, 'm', '1', undefined, feedsOf(rowsFor(c, 1)), ['y'])));
    expect(session.runs).toEqual([3, 1, 1]);
    expect(h.batches).toEqual([['m', '1', 3]]);
    expect(h.warnings).toEqual([]);
  });

  it('serves a model whose first dimension is fixed unbatched, with one warning', async () => {
    const h = hooks();
    const batchers = new Batchers(h);
    const session = new LinearSession();
    (session as { signature: Signature }).signature = { ...session.signature, inputs: [{ name: 'x', isTensor: true, type: 'float32', shape: [1, 4] }] };
    const policy = { maxBatchSize: 8, maxDelayMs: 5 };
    await Promise.all([1, 2].map((c) => batchers.run(session, 'm', '1', policy, feedsOf(rowsFor(c, 1)), ['y'])));
    expect(session.runs).toEqual([1, 1]);
    expect(h.warnings).toEqual([{ event: 'batching_off', model: 'm', version: '1', reason: 'input "x" has a fixed first dimension (1)' }]);
  });

  it('keeps a batching session on its worker thread, once, and leaves an unbatchable one as it is', async () => {
    const h = hooks();
    const batchers = new Batchers(h);
    const policy = { maxBatchSize: 8, maxDelayMs: 5 };
    const batched = Object.assign(new LinearSession(), { kept: 0, keepOnWorker() { this.kept++; } });
    await Promise.all([1, 2].map((c) => batchers.run(batched, 'm', '1', policy, feedsOf(rowsFor(c, 1)), ['y'])));
    await batchers.run(batched, 'm', '1', policy, feedsOf(rowsFor(3, 1)), ['y']);
    expect(batched.kept).toBe(1);
    const fixed = Object.assign(new LinearSession(), { kept: 0, keepOnWorker() { this.kept++; } });
    (fixed as { signature: Signature }).signature = { ...fixed.signature, inputs: [{ name: 'x', isTensor: true, type: 'float32', shape: [1, 4] }] };
    await batchers.run(fixed, 'm', '1', policy, feedsOf(rowsFor(1, 1)), ['y']);
    expect(fixed.kept).toBe(0);
  });

  it('names why a signature cannot be batched', () => {
    const sig = (shape: Array<number | string>): Signature => ({ inputs: [{ name: 'in', isTensor: true, type: 'float32', shape }], outputs: [] });
    expect(unbatchableReason(sig(['n', 3]))).toBeUndefined();
    expect(unbatchableReason(sig([-1, 3]))).toBeUndefined();
    expect(unbatchableReason(sig([]))).toBe('input "in" declares no shape');
    expect(unbatchableReason(sig([2, 3]))).toBe('input "in" has a fixed first dimension (2)');
  });
});
