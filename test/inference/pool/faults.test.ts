// A worker that crashes or hangs fails the requests it holds with a JSON 5xx, is replaced, and
// the next request is answered (its version loads again on the new thread).
import { afterEach, describe, expect, it } from 'vitest';
import { InferencePool } from '../../../src/inference/pool/pool.js';
import { createOrtSessionFactory } from '../../../src/inference/session.js';
import { doubler } from '../../support/models.js';
import { capturingLog, startGateway, type RunningGateway } from '../../support/harness.js';

const registry = 'models:\n  m:\n    versions:\n      "1": { uri: ./m.onnx, weight: 1 }\n';
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
  gw = await startGateway({ registry, files: { 'm.onnx': doubler }, sessionFactory: pool, log });
  return { gw, pool, lines };
}

const ask = (g: RunningGateway, x: number) => g.post<{ outputs?: { y: number[][] }; code?: string; error?: string }>('/predict', { model: 'm', inputs: { x: [[x]] } });

describe('inference worker faults', () => {
  it('a crashed worker fails its request with a 500 JSON, is replaced, and the next request succeeds', async () => {
    const { gw, pool, lines } = await start();
    expect((await ask(gw, 2)).body.outputs).toEqual({ y: [[4]] });
    await pool.injectFault(0, 'crash');
    const failed = await ask(gw, 3);
    expect(failed.status).toBe(500);
    expect(failed.body).toEqual({ error: 'the model failed while running', code: 'INFERENCE_FAILED' });
    expect(lines.some((l) => l.event === 'inference_worker_lost' && String(l.reason).includes('exited with code 70'))).toBe(true);
    const next = await ask(gw, 5);
    expect(next.status).toBe(200);
    expect(next.body.outputs).toEqual({ y: [[10]] });
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
    expect(waited).toBeLessThan(10_000);
    expect(lines.some((l) => l.event === 'inference_worker_lost' && String(l.reason).includes('no progress for 400 ms'))).toBe(true);
    const next = await ask(gw, 6);
    expect(next.status).toBe(200);
    expect(next.body.outputs).toEqual({ y: [[12]] });
  });

  it('without a fault a slow but progressing worker is not cut off', async () => {
    const { gw } = await start(400);
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => ask(gw, i)));
    expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));
    expect(answers.map((a) => a.body.outputs?.y[0]?.[0])).toEqual(Array.from({ length: 40 }, (_, i) => 2 * i));
  });
});
