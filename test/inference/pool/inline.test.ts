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

describe('the probe on a busy machine', () => {
  // A worker whose measured run times the test chooses: most slowed (its thread descheduled, as
  // a lower-priority thread is on a saturated machine), a quarter clean.
  function probedSession(times: number[]) {
    let calls = 0;
    const ops: string[] = [];
    const slot = {
      index: 0,
      generation: 0,
      call: async (message: { op: string }) => {
        ops.push(message.op);
        return message.op === 'run' ? { ok: true, outputs: [], us: times[calls++ % times.length] } : { ok: true };
      },
    } as unknown as WorkerSlot;
    const inline: ModelSession = { signature: { inputs: [], outputs: [] }, run: async () => ({}), release: async () => {} };
    const moves: Array<[string, number]> = [];
    const session = new PooledSession(inline.signature, {
      slot,
      sid: 1,
      filePath: 'm.onnx',
      threads: 1,
      maxInFlight: 2,
      inline: { enabled: true, warmupRuns: 0, probeRuns: 16, belowUs: 100, demoteAboveUs: 20_000 },
      inlineFactory: { create: async () => inline },
      onPlacementChange: (_file, where, us) => void moves.push([where, us]),
    });
    return { session, moves, ops };
  }

  it('moves a version inline when a quarter of its probe runs are quick, though most were slowed', async () => {
    // 10 of 16 runs slowed to 400-900 µs: the median (450) says "worker"; the lower quartile (52), inline.
    const times = [50, 400, 55, 600, 900, 48, 700, 52, 800, 450, 500, 51, 650, 420, 750, 49];
    const { session, moves } = probedSession(times);
    for (let i = 0; i < 16; i++) await session.run({}, []);
    await vi.waitFor(() => expect(session.placement).toBe('inline'));
    expect(moves).toEqual([['inline', 52]]);
  });

  it('keeps a version on its worker when fewer than a quarter of its runs are quick', async () => {
    const times = [50, 400, 55, 600, 900, 480, 700, 520, 800, 450, 500, 510, 650, 420, 750, 490];
    const { session, moves } = probedSession(times);
    for (let i = 0; i < 16; i++) await session.run({}, []);
    expect(session.placement).toBe('worker');
    expect(moves).toEqual([['worker', 450]]);
  });
});

describe('a batching version (keepOnWorker)', () => {
  const quick = Array.from({ length: 16 }, () => 20);
  function session(ops: string[], moves: Array<[string, number]>) {
    const slot = {
      index: 0,
      generation: 0,
      call: async (message: { op: string }) => {
        ops.push(message.op);
        return message.op === 'run' ? { ok: true, outputs: [], us: 20 } : { ok: true };
      },
    } as unknown as WorkerSlot;
    const inline: ModelSession = { signature: { inputs: [], outputs: [] }, run: async () => ({}), release: async () => {} };
    return new PooledSession(inline.signature, {
      slot,
      sid: 1,
      filePath: 'm.onnx',
      threads: 1,
      maxInFlight: 2,
      inline: { enabled: true, warmupRuns: 0, probeRuns: quick.length, belowUs: 100, demoteAboveUs: 20_000 },
      inlineFactory: { create: async () => inline },
      onPlacementChange: (_file, where, us) => void moves.push([where, us]),
    });
  }

  it('stays on its worker though its probe runs are quick', async () => {
    const ops: string[] = [];
    const moves: Array<[string, number]> = [];
    const s = session(ops, moves);
    s.keepOnWorker();
    for (let i = 0; i < 20; i++) await s.run({}, []);
    expect(s.placement).toBe('worker');
    expect(moves).toEqual([]);
    expect(ops.filter((op) => op === 'run')).toHaveLength(20);
  });

  it('goes back to its worker, loading its copy there again, if it had moved inline', async () => {
    const ops: string[] = [];
    const moves: Array<[string, number]> = [];
    const s = session(ops, moves);
    for (let i = 0; i < 16; i++) await s.run({}, []);
    await vi.waitFor(() => expect(ops).toContain('release'));
    expect(s.placement).toBe('inline');
    s.keepOnWorker();
    expect(s.placement).toBe('worker');
    await s.run({}, []);
    expect(moves.map(([where]) => where)).toEqual(['inline', 'worker']);
    expect(ops.slice(-3)).toEqual(['release', 'load', 'run']);
  });
});

describe('back to the worker while a promotion is still draining it', () => {
  it('keeps the worker copy it never released: no second load', async () => {
    const ops: string[] = [];
    let hold: (() => void) | undefined;
    let created: (() => void) | undefined;
    const slot = {
      index: 0,
      generation: 0,
      call: async (message: { op: string }) => {
        ops.push(message.op);
        if (message.op === 'run' && ops.filter((op) => op === 'run').length === 2) await new Promise<void>((r) => (hold = r));
        return message.op === 'run' ? { ok: true, outputs: [], us: 20 } : { ok: true };
      },
    } as unknown as WorkerSlot;
    const inline: ModelSession = { signature: { inputs: [], outputs: [] }, run: async () => ({}), release: async () => {} };
    const s = new PooledSession(inline.signature, {
      slot,
      sid: 1,
      filePath: 'm.onnx',
      threads: 1,
      maxInFlight: 2,
      inline: { enabled: true, warmupRuns: 0, probeRuns: 1, belowUs: 100, demoteAboveUs: 20_000 },
      inlineFactory: { create: () => new Promise<ModelSession>((r) => (created = () => r(inline))) },
    });
    await s.run({}, []); // the probe: quick, so the promotion starts loading the inline copy
    const held = s.run({}, []); // meanwhile sent to the worker, and held there
    created?.();
    await vi.waitFor(() => expect(s.placement).toBe('inline')); // promoted, waiting for the worker to drain
    s.keepOnWorker();
    hold?.();
    await held;
    await s.run({}, []);
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
