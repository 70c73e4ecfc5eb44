// Inference threads run at a lower OS priority than the event loop, so heavy compute on every
// core still leaves the event loop a core when it has work. Read back from /proc: the worker
// thread and the intra-op threads onnxruntime starts in it are reniced; the event loop is not;
// a replacement worker is reniced too.
import { describe, expect, it } from 'vitest';
import { InferencePool } from '../../../src/inference/pool/pool.js';
import { createOrtSessionFactory } from '../../../src/inference/session.js';
import { niceByThread } from '../../support/proc.js';
import { heavyInput, modelFiles, WIDTH } from './heavy-model.js';

const files = modelFiles(0);

/** Threads started since `before`, with their nice values. */
function started(before: Map<number, number>): number[] {
  return [...niceByThread()].filter(([tid]) => !before.has(tid)).map(([, nice]) => nice);
}

const heavyOut = (rows: number) => Array<number>(rows * WIDTH).fill(WIDTH * 0.001);

describe.runIf(process.platform === 'linux')('inference thread priority', () => {
  it('the worker thread and its onnxruntime intra-op threads run reniced; the event loop does not', async () => {
    const before = niceByThread();
    const mainNice = before.get(process.pid);
    const pool = new InferencePool({ threads: 1, intraOpNumThreads: 3, workerNice: 7, inline: { enabled: false }, inlineFactory: createOrtSessionFactory() });
    try {
      const heavy = await pool.create(files.heavy);
      const out = await heavy.run(heavyInput(2), ['y']);
      expect(Array.from(out.y?.data as Float32Array).map((v) => Math.round(v * 1000) / 1000)).toEqual(heavyOut(2));
      const niced = started(before).filter((n) => n === (mainNice ?? 0) + 7);
      // The worker thread itself, and the 2 threads onnxruntime adds to it for 3-way intra-op runs.
      expect(niced.length, `threads started: ${started(before).join(',')}`).toBeGreaterThanOrEqual(3);
      expect(niceByThread().get(process.pid)).toBe(mainNice);
    } finally {
      await pool.close();
    }
  });

  it('by default the worker is reniced by 10; a replacement worker is reniced again', async () => {
    const before = niceByThread();
    const mainNice = before.get(process.pid) ?? 0;
    const pool = new InferencePool({ threads: 1, faults: true, inline: { enabled: false }, inlineFactory: createOrtSessionFactory() });
    try {
      const heavy = await pool.create(files.heavy);
      await heavy.run(heavyInput(1), ['y']);
      expect(started(before)).toContain(Math.min(19, mainNice + 10));
      await pool.injectFault(0, 'crash');
      await expect(heavy.run(heavyInput(1), ['y'])).rejects.toThrow(/exited/);
      const beforeReplacement = niceByThread();
      const out = await heavy.run(heavyInput(1), ['y']);
      expect(Array.from(out.y?.data as Float32Array).map((v) => Math.round(v * 1000) / 1000)).toEqual(heavyOut(1));
      expect(started(beforeReplacement)).toContain(Math.min(19, mainNice + 10));
    } finally {
      await pool.close();
    }
  });

  it('workerNice 0 leaves every inference thread at the event loop\'s priority', async () => {
    const before = niceByThread();
    const mainNice = before.get(process.pid) ?? 0;
    const pool = new InferencePool({ threads: 1, intraOpNumThreads: 2, workerNice: 0, inline: { enabled: false }, inlineFactory: createOrtSessionFactory() });
    try {
      const heavy = await pool.create(files.heavy);
      await heavy.run(heavyInput(1), ['y']);
      const threads = started(before);
      expect(threads.length).toBeGreaterThanOrEqual(2);
      expect(threads.every((n) => n === mainNice)).toBe(true);
    } finally {
      await pool.close();
    }
  });
});
