// npx tsx bench/ort-memory.ts [--no-prepack] [--no-arena] — what onnxruntime itself holds, with no
// gateway around it: 20 loads of a 16 MiB model, 5 kept at a time (as the cache-cycling scenario
// does), RSS after every 4 loads. Run with MALLOC_ARENA_MAX=2 to see glibc's share.
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildBenchModels, MODELS_DIR } from './models.js';
import { ROOT } from './spawn.js';

const noPrepack = process.argv.includes('--no-prepack');
const noArena = process.argv.includes('--no-arena');
// Run once before measuring if the models are not built yet: building them grows the heap.
const models = buildBenchModels(MODELS_DIR, path.resolve(ROOT, '..', 'shared', 'models'));
const mib = () => `${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`;
const x = new ort.Tensor('float32', new Float32Array(2048).fill(0.5), [1, 2048]);
const live: ort.InferenceSession[] = [];
const marks = [`start ${mib()}`];
for (let i = 0; i < models.cycle.length; i++) {
  const session = await ort.InferenceSession.create(models.cycle[i] as string, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 1,
    enableCpuMemArena: !noArena,
    logSeverityLevel: 4,
    ...(noPrepack ? { extra: { session: { disable_prepacking: '1' } } } : {}),
  });
  await session.run({ x });
  live.push(session);
  if (live.length > 5) await live.shift()?.release();
  if (i % 4 === 3) marks.push(`${i + 1} loads ${mib()}`);
}
console.log(`model file ${(models.cycleBytes / 2 ** 20).toFixed(1)} MiB; prepacking ${noPrepack ? 'off' : 'on'}, arena ${noArena ? 'off' : 'on'}: ${marks.join(', ')}`);
