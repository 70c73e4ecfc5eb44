// Where a version runs is decided by its measured run time: tiny ones move onto the event loop
// (a thread round trip costs more than their run), others stay on their worker, and an inline
// version whose run turns out slow goes back to its worker.
import { describe, expect, it, vi } from 'vitest';
import { InferencePool } from '../../../src/inference/pool/pool.js';
import { PooledSession, quantile } from '../../../src/inference/pool/pooled-session.js';
import type { WorkerSlot } from '../../../src/inference/pool/worker-slot.js';
import { createOrtSessionFactory, type ModelSession } from '../../../src/inference/session.js';
import { heavyInput, modelFiles } from './heavy-model.js';

const files = modelFiles(1);

const tinyInput = (x: number) => ({ x: { type: 'float32' as const, dims: [1, 1], data: new Float32Array([x]) } });

async function runTiny(s: PooledSession, x: number): Promise<number> {
  const out = await s.run(tinyInput(x), ['y']);
  return (out.y?.data as Float32Array)[0] as number;
}

describe('inline decision by measured run time', () => {
  it('a tiny version moves inline after its probe runs; a heavy one stays on its worker', async () => {
    // 1 ms: far above a tiny run on any machine, far below a 64-row 1024-wide layer.
    const pool = new InferencePool({ threads: 2, inline: { warmupRuns: 0, probeRuns: 4, belowUs: 1_000 }, inlineFactory: createOrtSessionFactory({ intraOpNumThreads: 1 }) });
    try {
      const tiny = (await pool.create(files.light)) as PooledSession;
      const heavy = (await pool.create(files.heavy)) as PooledSession;
      for (let i = 0; i < 4; i++) {
        expect(await runTiny(tiny, i)).toBe(2 * i + 1);
        await heavy.run(heavyInput(64), ['y']);
      }
      await vi.waitFor(() => expect(tiny.placement).toBe('inline'), { timeout: 5_000 });
      expect(heavy.placement).toBe('worker');
      // Answers stay right after the move, and more runs leave the heavy one where it is.
      expect(await runTiny(tiny, 10)).toBe(21);
      await heavy.run(heavyInput(64), ['y']);
      expect(heavy.placement).toBe('worker');
    } finally {
      await pool.close();
    }
  });

  it('does not move a version before its probe runs are done', async () => {
    const pool = new InferencePool({ threads: 1, inline: { warmupRuns: 0, probeRuns: 50, belowUs: 1_000 }, inlineFactory: createOrtSessionFactory() });
    try {
      const tiny = (await pool.create(files.light)) as PooledSession;
      for (let i = 0; i < 10; i++) await runTiny(tiny, i);
      await new Promise((r) => setTimeout(r, 100));
      expect(tiny.placement).toBe('worker');
    } finally {
      await pool.close();
    }
  });

  it('an inline version whose run on a larger input than probed is slow goes back to its worker for good', async () => {
    // Everything is promoted (huge threshold), probed on 1-row inputs; a 64-row run over 1 ms demotes it.
    const pool = new InferencePool({ threads: 1, inline: { warmupRuns: 0, probeRuns: 2, belowUs: 1e9, demoteAboveUs: 1_000 }, inlineFactory: createOrtSessionFactory({ intraOpNumThreads: 1 }) });
    try {
      const heavy = (await pool.create(files.heavy)) as PooledSession;
      await heavy.run(heavyInput(1), ['y']);
      await heavy.run(heavyInput(1), ['y']);
      await vi.waitFor(() => expect(heavy.placement).toBe('inline'), { timeout: 5_000 });
      // The probed size stays inline whatever one run's wall time.
      await heavy.run(heavyInput(1), ['y']);
      expect(heavy.placement).toBe('inline');
      const out = await heavy.run(heavyInput(64), ['y']);
      expect((out.y?.data as Float32Array)[0]).toBeCloseTo(1.024, 3);
      expect(heavy.placement).toBe('worker');
      // Back on the worker (loaded there again), and it stays there.
      for (let i = 0; i < 3; i++) {
        const again = await heavy.run(heavyInput(64), ['y']);
        expect((again.y?.data as Float32Array)[0]).toBeCloseTo(1.024, 3);
      }
      expect(heavy.placement).toBe('worker');
    } finally {
      await pool.close();
    }
  });
});

interface FakeWorkerOptions {
  /** Worker-measured run times, in turn. */
  readonly times: readonly number[];
  readonly probeRuns: number;
  /** Holds the worker's answer to its n-th run (1-based) until the returned release is called. */
  readonly holdRun?: number;
  /** Holds the inline copy's load until the returned release is called. */
  readonly holdInlineLoad?: boolean;
  /** How long each inline run computes (µs, a busy wait on this thread, timed as a real run is). */
  readonly inlineUs?: number;
}

function computeFor(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
}

/**
 * A PooledSession on a fake worker whose run times the test chooses, recording the worker's
 * operations and the placement moves.
 */
function onFakeWorker(options: FakeWorkerOptions) {
  const ops: string[] = [];
  const moves: Array<[string, number]> = [];
  const holds: { run?: () => void; load?: () => void } = {};
  let runs = 0;
  const slot = {
    index: 0,
    generation: 0,
    call: async (message: { op: string }) => {
      ops.push(message.op);
      if (message.op !== 'run') return { ok: true };
      const us = options.times[runs++ % options.times.length];
      if (runs === options.holdRun) await new Promise<void>((r) => (holds.run = r));
      return { ok: true, outputs: [], us };
    },
  } as unknown as WorkerSlot;
  const inlineRuns = { count: 0 };
  const inline: ModelSession = {
    signature: { inputs: [], outputs: [] },
    // As onnxruntime-node does: the computation runs in a later setImmediate.
    run: () =>
      new Promise((resolve) =>
        setImmediate(() => {
          inlineRuns.count++;
          computeFor(options.inlineUs ?? 0);
          resolve({});
        }),
      ),
    release: async () => {},
  };
  const session = new PooledSession(inline.signature, {
    slot,
    sid: 1,
    filePath: 'm.onnx',
    threads: 1,
    maxInFlight: 2,
    inline: { enabled: true, warmupRuns: 0, probeRuns: options.probeRuns, belowUs: 100, trialBelowUs: 200, demoteAboveUs: 20_000 },
    inlineFactory: { create: () => (options.holdInlineLoad ? new Promise<ModelSession>((r) => (holds.load = () => r(inline))) : Promise.resolve(inline)) },
    onPlacementChange: (_file, where, us) => void moves.push([where, us]),
  });
  return { session, ops, moves, holds, inlineRuns };
}

describe('the probe on a busy machine', () => {
  // Most probe runs slowed (the worker thread descheduled, as a lower-priority thread is on a
  // saturated machine), some clean.
  it('moves a version inline when a quarter of its probe runs are quick, though most were slowed', async () => {
    // 10 of 16 runs slowed to 400-900 µs: the median (450) says "worker"; the lower quartile (52), inline.
    const times = [50, 400, 55, 600, 900, 48, 700, 52, 800, 450, 500, 51, 650, 420, 750, 49];
    const { session, moves } = onFakeWorker({ times, probeRuns: 16 });
    for (let i = 0; i < 16; i++) await session.run({}, []);
    await vi.waitFor(() => expect(session.placement).toBe('inline'));
    expect(moves).toEqual([['inline', 52]]);
  });

  it('keeps a version on its worker when fewer than a quarter of its runs are quick', async () => {
    const times = [50, 400, 55, 600, 900, 480, 700, 520, 800, 450, 500, 510, 650, 420, 750, 490];
    const { session, moves } = onFakeWorker({ times, probeRuns: 16 });
    for (let i = 0; i < 16; i++) await session.run({}, []);
    expect(session.placement).toBe('worker');
    expect(moves).toEqual([['worker', 450]]);
  });
});

describe('a probe near the threshold: inline on trial', () => {
  // belowUs 100, trialBelowUs 200: a probe's lower quartile of 100–199 µs goes inline on trial.
  const borderline = [150, 160, 170, 180];

  it('keeps a version inline whose inline runs are quick, though its worker runs measured slower', async () => {
    const { session, moves, inlineRuns } = onFakeWorker({ times: borderline, probeRuns: 4, inlineUs: 0 });
    for (let i = 0; i < 4; i++) await session.run({}, []);
    await vi.waitFor(() => expect(session.placement).toBe('inline'));
    for (let i = 0; i < 12; i++) await session.run({}, []);
    expect(inlineRuns.count).toBe(12);
    expect(session.placement).toBe('inline');
    expect(moves).toEqual([['inline', 160]]);
  });

  it('sends it back to its worker for good when its inline runs are no quicker', async () => {
    // 250 µs: over belowUs, but under the 4 × belowUs that demotes a version promoted outright.
    const { session, ops, moves, inlineRuns } = onFakeWorker({ times: borderline, probeRuns: 4, inlineUs: 250 });
    for (let i = 0; i < 4; i++) await session.run({}, []);
    await vi.waitFor(() => expect(session.placement).toBe('inline'));
    for (let i = 0; i < 4; i++) await session.run({}, []);
    expect(session.placement).toBe('worker');
    expect(moves.map(([where]) => where)).toEqual(['inline', 'worker']);
    // The figure logged is the trial's lower quartile: at least the inline run's 250 µs.
    expect(moves[1]?.[1]).toBeGreaterThanOrEqual(250);
    // Back on the worker (its copy loaded there again), and it stays there whatever its runs.
    for (let i = 0; i < 8; i++) await session.run({}, []);
    expect(inlineRuns.count).toBe(4);
    expect(session.placement).toBe('worker');
    expect(ops.filter((op) => op === 'load')).toHaveLength(1);
  });

  it('does not hold a version promoted outright to the trial: inline runs up to 4 × belowUs keep it', async () => {
    const { session, moves } = onFakeWorker({ times: [50], probeRuns: 4, inlineUs: 250 });
    for (let i = 0; i < 4; i++) await session.run({}, []);
    await vi.waitFor(() => expect(session.placement).toBe('inline'));
    for (let i = 0; i < 8; i++) await session.run({}, []);
    expect(session.placement).toBe('inline');
    expect(moves).toEqual([['inline', 50]]);
  });

  it('a batching version (keepOnWorker) on trial goes back to its worker and stays', async () => {
    const { session, moves, inlineRuns } = onFakeWorker({ times: borderline, probeRuns: 4, inlineUs: 0 });
    for (let i = 0; i < 4; i++) await session.run({}, []);
    await vi.waitFor(() => expect(session.placement).toBe('inline'));
    await session.run({}, []);
    session.keepOnWorker();
    for (let i = 0; i < 8; i++) await session.run({}, []);
    expect(session.placement).toBe('worker');
    expect(inlineRuns.count).toBe(1);
    expect(moves.map(([where]) => where)).toEqual(['inline', 'worker']);
  });

  it('leaves a probe at or above trialBelowUs on its worker, untried', async () => {
    const { session, moves, inlineRuns } = onFakeWorker({ times: [200, 210, 220, 230], probeRuns: 4, inlineUs: 0 });
    for (let i = 0; i < 8; i++) await session.run({}, []);
    expect(session.placement).toBe('worker');
    expect(inlineRuns.count).toBe(0);
    expect(moves).toEqual([['worker', 210]]);
  });
});

describe('a batching version (keepOnWorker)', () => {
  it('stays on its worker though its probe runs are quick', async () => {
    const { session, ops, moves } = onFakeWorker({ times: [20], probeRuns: 16 });
    session.keepOnWorker();
    for (let i = 0; i < 20; i++) await session.run({}, []);
    expect(session.placement).toBe('worker');
    expect(moves).toEqual([]);
    expect(ops.filter((op) => op === 'run')).toHaveLength(20);
  });

  it('goes back to its worker, loading its copy there again, if it had moved inline', async () => {
    const { session, ops, moves } = onFakeWorker({ times: [20], probeRuns: 16 });
    for (let i = 0; i < 16; i++) await session.run({}, []);
    await vi.waitFor(() => expect(ops).toContain('release'));
    expect(session.placement).toBe('inline');
    session.keepOnWorker();
    expect(session.placement).toBe('worker');
    await session.run({}, []);
    expect(moves.map(([where]) => where)).toEqual(['inline', 'worker']);
    expect(ops.slice(-3)).toEqual(['release', 'load', 'run']);
  });

  it('sent back while its promotion is still draining the worker, keeps the copy it never released: no second load', async () => {
    const { session, ops, holds } = onFakeWorker({ times: [20], probeRuns: 1, holdRun: 2, holdInlineLoad: true });
    await session.run({}, []); // the probe: quick, so the promotion starts loading the inline copy
    const held = session.run({}, []); // meanwhile sent to the worker, and held there
    holds.load?.();
    await vi.waitFor(() => expect(session.placement).toBe('inline')); // promoted, waiting for the worker to drain
    session.keepOnWorker();
    holds.run?.();
    await held;
    await session.run({}, []);
    expect(ops).toEqual(['run', 'run', 'run']);
  });
});

describe('quantile', () => {
  it('is the element at q of the sorted values', () => {
    expect(quantile([9, 1, 5, 3], 0.5)).toBe(5); // the upper median, as the demotion rule always used
    expect(quantile([9, 1, 5], 0.5)).toBe(5);
    expect(quantile([9, 1, 5, 3], 0.25)).toBe(3);
    expect(quantile([4, 3, 2, 1, 8, 7, 6, 5], 0.25)).toBe(3);
    expect(quantile([7], 0.25)).toBe(7);
    expect(quantile([], 0.5)).toBe(Infinity);
  });
});
