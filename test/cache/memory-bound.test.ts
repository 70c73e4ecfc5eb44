// The memory bound end to end: real sessions on the real worker pool, loaded and released 100
// times through a cache that holds a few, in a process started with the malloc settings that
// `npm start` (and the Dockerfile, and app.yaml) give the gateway.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildModel } from '../../tools/onnx-builder.js';
import { makeTempDir } from '../support/harness.js';
import { runToExit } from '../support/process.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const temp = makeTempDir();
afterAll(() => temp.cleanup());
const MiB = 2 ** 20;

/** GLIBC_TUNABLES as the `start` script sets it. */
function startTunables(): string {
  const start = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start ?? '';
  const m = /GLIBC_TUNABLES=([^\s$]+)/.exec(start);
  if (!m?.[1]) throw new Error(`the start script sets no GLIBC_TUNABLES: ${start}`);
  return m[1];
}

describe('memory bound (cache.maxBytes + what the process had when warm)', () => {
  it('the start script, the Dockerfile and app.yaml set the same malloc tunables, with mmap_threshold', () => {
    const tunables = startTunables();
    expect(tunables).toMatch(/glibc\.malloc\.mmap_threshold=\d+/);
    expect(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).toContain(`ENV GLIBC_TUNABLES=${tunables} `);
    expect(readFileSync(path.join(ROOT, 'app.yaml'), 'utf8')).toContain(`GLIBC_TUNABLES: "${tunables}"`);
  });

  it('100 loads of 8 MiB versions through a 40 MiB cache grow RSS by less than maxBytes over the warm process', async () => {
    const [inW, outW] = [2048, 1024];
    const model = buildModel({
      inputs: [{ name: 'x', type: 'float32', shape: ['batch', inW] }],
      outputs: [{ name: 'y', type: 'float32', shape: ['batch', outW] }],
      initializers: [{ name: 'W', type: 'float32', dims: [inW, outW], values: Array.from({ length: inW * outW }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5) }],
      nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['y'] }],
    });
    writeFileSync(path.join(temp.dir, 'v0.onnx'), model);
    const maxBytes = 40 * MiB;
    const { code, output } = await runToExit(process.execPath, ['--import', 'tsx', 'test/support/memory-cycle.ts', temp.dir, '10', '100', String(maxBytes)], {
      cwd: ROOT,
      env: { ...process.env, GLIBC_TUNABLES: startTunables() },
    });
    expect(code, output).toBe(0);
    const line = output.split('\n').find((l) => l.startsWith('{"warm"'));
    const { warm, max, accountedMax } = JSON.parse(line ?? '{}') as { warm: number; max: number; accountedMax: number };
    expect(accountedMax).toBeGreaterThan(2 * 8 * MiB); // it did hold models
    expect(accountedMax).toBeLessThanOrEqual(maxBytes);
    // Without the tunables this grew by 55–135 MiB here; with them by 5–14 MiB.
    expect((max - warm) / MiB).toBeLessThan(maxBytes / MiB);
  }, 60_000);
});
