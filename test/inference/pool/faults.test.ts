// A worker that crashes or hangs fails the requests it holds with a JSON 5xx, is replaced, and
// the next requests are answered (the versions pinned to it load again on the new thread); one
// that keeps finishing runs is never cut off, however long its backlog.
import { afterEach, describe, expect, it } from 'vitest';
import { InferencePool } from '../../../src/inference/pool/pool.js';
import { createOrtSessionFactory } from '../../../src/inference/session.js';
import { doubler, tripler } from '../../support/models.js';
import { capturingLog, startGateway, type RunningGateway } from '../../support/harness.js';
import { heavyInput, modelFiles, WIDTH } from './heavy-model.js';

// Two versions, both pinned to the pool's one thread.
const registry = 'models:\n  m:\n    versions:\n      "1": { uri: ./m.onnx, weight: 1 }\n  t:\n    versions:\n      "1": { uri: ./t.onnx, weight: 1 }\n';
const files = modelFiles(0);
let gw: RunningGateway | undefined;
let pool: InferencePool | undefined;

afterEach(async () => {
  await gw?.close();
  await pool?.close();
  gw = undefined;
  pool = undefined;
});

async function start(hangTimeoutMs = 60_000) {
  const { log, lines } = capturingLog();
  // One thread, inline off: every run goes through the worker the fault is injected into.
  pool = new InferencePool({ threads: 1, faults: true, hangTimeoutMs, inline: { enabled: false }, inlineFactory: createOrtSessionFactory(), onWorkerLost: (i, reason) => log.warn({ event: 'inference_worker_lost', worker: i, reason }, 'lost') });
  gw = await startGateway({ registry, files: { 'm.onnx': doubler, 't.onnx': tripler }, sessionFactory: pool, log });
  return { gw, pool, lines };
}

const ask = (g: RunningGateway, x: number, model = 'm') => g.post<{ outputs?: { y: number[][] }; code?: string; error?: string }>('/predict', { model, inputs: { x: [[x]] } });

describe('inference worker faults', () => {
  it('a crashed worker fails the requests it holds with a 500 JSON, is replaced, and both its versions answer again', async () => {
    const { gw, pool, lines } = await start();
    expect((await ask(gw, 2)).body.outputs).toEqual({ y: [[4]] });
    expect((await ask(gw, 2, 't')).body.outputs).toEqual({ y: [[6]] });
    await pool.injectFault(0, 'crash');
    // Two requests sent together: the one whose run crashes the thread fails, and so does the
    // other if the thread already held it (it nearly always does); if it came after, it is served.
    const answers = await Promise.all([ask(gw, 3), ask(gw, 4)]);
    expect(answers.filter((res) => res.status === 500).length).toBeGreaterThanOrEqual(1);
    answers.forEach((res, i) => {
      if (res.status === 500) expect(res.body).toEqual({ error: 'the model failed while running', code: 'INFERENCE_FAILED' });
      else expect({ status: res.status, outputs: res.body.outputs }).toEqual({ status: 200, outputs: { y: [[2 * (3 + i)]] } });
    });
    expect(lines.filter((l) => l.event === 'inference_worker_lost').map((l) => String(l.reason))).toEqual([expect.stringContaining('exited with code 70')]);
    // Both versions pinned to the lost thread load again on its replacement.
    const [m, t] = await Promise.all([ask(gw, 5), ask(gw, 5, 't')]);
    expect([m.status, t.status]).toEqual([200, 200]);
    expect(m.body.outputs).toEqual({ y: [[10]] });
    expect(t.body.outputs).toEqual({ y: [[15]] });
  });

  it('a hung run is cut off after the hang timeout with a 500, the worker replaced, the next request served', async () => {
    const { gw, pool, lines } = await start(400);
    expect((await ask(gw, 1)).status).toBe(200);
    await pool.injectFault(0, 'hang');
    const started = Date.now();
    const hung = ask(gw, 3);
    // Requests queued behind the hung run fail with it rather than waiting forever.
    const behind = ask(gw, 4);
    const [a, b] = await Promise.all([hung, behind]);
    const waited = Date.now() - started;
    expect(a.status).toBe(500);
    expect(a.body.code).toBe('INFERENCE_FAILED');
    expect(b.status).toBe(500);
    expect(waited).toBeGreaterThanOrEqual(350);
    expect(waited).toBeLessThan(400 + 2_500);
    expect(lines.some((l) => l.event === 'inference_worker_lost' && String(l.reason).includes('no progress for 400 ms'))).toBe(true);
    const next = await ask(gw, 6);
    expect(next.status).toBe(200);
    expect(next.body.outputs).toEqual({ y: [[12]] });
  });

  it('a worker that keeps finishing runs is not cut off, however long its backlog lasts', async () => {
    const lost: string[] = [];
    // Runs of a few ms each (256 rows of a 1024-wide layer) against a 150 ms hang timeout, 60 of them:
    // only a watchdog that restarts on every finished run lets all of them through.
    pool = new InferencePool({ threads: 1, hangTimeoutMs: 150, inline: { enabled: false }, inlineFactory: createOrtSessionFactory(), onWorkerLost: (_i, reason) => lost.push(reason) });
    const heavy = await pool.create(files.heavy);
    await heavy.run(heavyInput(1), ['y']);
    const started = performance.now();
    const outs = await Promise.all(Array.from({ length: 60 }, () => heavy.run(heavyInput(256), ['y'])));
    const backlogMs = performance.now() - started;
    expect(backlogMs, 'the backlog outlasts the hang timeout').toBeGreaterThan(300);
    expect(lost).toEqual([]);
    // y = x · W with every weight 0.001 and x all ones: each element is 1024 × 0.001 (summed in float32).
    for (const out of outs) {
      expect(out.y?.dims).toEqual([256, WIDTH]);
      for (const v of (out.y?.data as Float32Array).subarray(0, 3)) expect(v).toBeCloseTo(WIDTH * 0.001, 4);
    }
  });
});
