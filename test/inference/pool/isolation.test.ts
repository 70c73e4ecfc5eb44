// A heavy version saturating the pool does not hold up a light one: versions are pinned to
// different threads when there are several, and each version's queue hands its thread only a
// few runs at a time when they share one.
import { describe, expect, it } from 'vitest';
import { InferencePool } from '../../../src/inference/pool/pool.js';
import { createOrtSessionFactory, type ModelSession } from '../../../src/inference/session.js';
import { heavyInput, modelFiles, WIDTH } from './heavy-model.js';

const files = modelFiles(0);

const light = () => ({ x: { type: 'float32' as const, dims: [1, 1], data: new Float32Array([21]) } });

/** Starts `n` heavy runs, then one light run; returns the order in which they finished. */
async function race(heavy: ModelSession, lightSession: ModelSession, n: number): Promise<{ order: string[]; lightMs: number; heavyMs: number }> {
  const order: string[] = [];
  const started = performance.now();
  const heavyRuns = Array.from({ length: n }, (_, i) => heavy.run(heavyInput(128), ['y']).then(() => void order.push(`heavy${i}`)));
  const t = performance.now();
  const lightRun = lightSession.run(light(), ['y']).then((out) => {
    order.push('light');
    expect(Array.from(out.y?.data as Float32Array)).toEqual([42]);
    return performance.now() - t;
  });
  const lightMs = await lightRun;
  await Promise.all(heavyRuns);
  return { order, lightMs, heavyMs: performance.now() - started };
}

describe('per-version isolation in the inference pool', () => {
  it('with two threads, a light version answers while a heavy one is saturated on the other', async () => {
    const pool = new InferencePool({ threads: 2, inline: { enabled: false }, inlineFactory: createOrtSessionFactory() });
    try {
      const heavy = await pool.create(files.heavy);
      const lightSession = await pool.create(files.light);
      await heavy.run(heavyInput(1), ['y']);
      await lightSession.run(light(), ['y']);
      const { order, lightMs, heavyMs } = await race(heavy, lightSession, 8);
      // The light run finishes long before the heavy backlog (a shared FIFO would make it 9th);
      // a busy shared machine may let a few heavy runs finish first. Generous on purpose.
      expect(order.indexOf('light'), order.join(' ')).toBeLessThanOrEqual(3);
      expect(lightMs, `light ${lightMs} ms, heavy backlog ${heavyMs} ms`).toBeLessThan(heavyMs / 2);
    } finally {
      await pool.close();
    }
  });

  it('on one shared thread, a light version waits behind at most maxInFlight heavy runs, not the whole backlog', async () => {
    const pool = new InferencePool({ threads: 1, maxInFlightPerVersion: 2, inline: { enabled: false }, inlineFactory: createOrtSessionFactory() });
    try {
      const heavy = await pool.create(files.heavy);
      const lightSession = await pool.create(files.light);
      await heavy.run(heavyInput(1), ['y']);
      const { order } = await race(heavy, lightSession, 10);
      // One FIFO would finish it 11th; its own queue lets it in after the 2 heavy runs already handed over.
      expect(order.indexOf('light')).toBeLessThanOrEqual(2);
      expect(order.filter((o) => o.startsWith('heavy'))).toHaveLength(10);
    } finally {
      await pool.close();
    }
  });

  it('the heavy model really is heavy enough for these timings to mean something', async () => {
    const pool = new InferencePool({ threads: 1, inline: { enabled: false }, inlineFactory: createOrtSessionFactory() });
    try {
      const heavy = await pool.create(files.heavy);
      const t = performance.now();
      const out = await heavy.run(heavyInput(64), ['y']);
      expect(out.y?.dims).toEqual([64, WIDTH]);
      expect((out.y?.data as Float32Array)[0]).toBeCloseTo(1.024, 3);
      expect(performance.now() - t).toBeGreaterThan(2);
    } finally {
      await pool.close();
    }
  });
});
