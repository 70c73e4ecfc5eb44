// Run as its own process (test/cache/memory-bound.test.ts): cycles versions of an 8 MiB model
// through a real ModelCache over the real inference pool, two callers at once, and prints one
// JSON line: RSS once the pool is warm, the highest RSS seen, and the highest bytes the cache
// counted. Its environment (GLIBC_TUNABLES) is the parent's to choose.
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { ModelCache } from '../../src/cache/model-cache.js';
import { InferencePool } from '../../src/inference/pool/pool.js';
import { createOrtSessionFactory } from '../../src/inference/session.js';
import { GatewayMetrics } from '../../src/metrics/metrics.js';
import type { VersionEntry } from '../../src/registry/revision.js';
import { createBlobStore } from '../../src/storage/store.js';

const [dir, versionsArg, loadsArg, maxBytesArg] = process.argv.slice(2);
if (!dir) throw new Error('usage: memory-cycle.ts DIR VERSIONS LOADS MAXBYTES');
// DIR/v0.onnx: x [batch, 2048] → MatMul 2048×1024 (8 MiB) → y, written by the parent.
const inW = 2048;
const first = path.join(dir, 'v0.onnx');
const versions: VersionEntry[] = Array.from({ length: Number(versionsArg) }, (_, i) => {
  const file = path.join(dir, `v${i}.onnx`);
  if (i > 0) copyFileSync(first, file);
  return { name: String(i), uri: file, location: { kind: 'file', path: file }, weight: 1, shadow: 0 };
});
const rss = () => process.memoryUsage.rss();
const pool = new InferencePool({ threads: 2, inline: { enabled: false }, inlineFactory: createOrtSessionFactory() });
const cache = new ModelCache({
  limits: { maxModels: 100, maxBytes: Number(maxBytesArg) },
  store: createBlobStore({ cacheDir: path.join(dir, 'cache'), gcsClient: () => { throw new Error('no gcs'); } }),
  factory: pool,
  metrics: new GatewayMetrics({ defaultMetrics: false }),
  log: pino({ level: 'silent' }),
});
const x = { type: 'float32' as const, dims: [1, inW], data: new Float32Array(inW).fill(0.25) };
async function use(v: VersionEntry): Promise<void> {
  const lease = await cache.acquire('m', v);
  try {
    await lease.session.run({ x: { ...x, data: x.data.slice() } }, ['y']);
  } finally {
    lease.release();
  }
}
// Warm: both workers started, onnxruntime initialised on each.
await Promise.all([use(versions[0] as VersionEntry), use(versions[1] as VersionEntry)]);
const warm = rss();
let max = warm;
let accountedMax = 0;
let next = 2;
const loads = Number(loadsArg);
await Promise.all(
  [0, 1].map(async () => {
    while (next < loads) {
      await use(versions[next++ % versions.length] as VersionEntry);
      max = Math.max(max, rss());
      accountedMax = Math.max(accountedMax, cache.accountedBytes);

    }
  }),
);
await cache.close();
await pool.close();
console.log(JSON.stringify({ warm, max, accountedMax, maxBytes: Number(maxBytesArg) }));
