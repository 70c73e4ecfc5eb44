// npx tsx bench/ort-memory.ts [--no-prepack] [--no-arena] [--footprint | --speed] — onnxruntime's
// own memory, with no gateway around it. Run it under the gateway's malloc settings and without:
//   GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=1048576 npx tsx bench/ort-memory.ts
// Default: 20 loads of the 16 MiB model, 5 kept at a time (as the cache-cycling scenario does),
// RSS after every 4 loads and the time per load.
// --footprint: for each bench model (and ../shared/models), the RSS one more session keeps (5
//   sessions, averaged) and the peak RSS growth during one load (VmHWM, reset before each load):
//   the figures behind src/cache/footprint.ts.
// --speed: median run time of the 784-wide MLP (1 and 32 rows) and the 1024-wide MLP (8 rows),
//   with weight prepacking on and off.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildBenchModels, MODELS_DIR } from './models.js';
import { ROOT } from './spawn.js';

const noPrepack = process.argv.includes('--no-prepack');
const noArena = process.argv.includes('--no-arena');
const SHARED = path.resolve(ROOT, '..', 'shared', 'models');
// Run once before measuring if the models are not built yet: building them grows the heap.
const models = buildBenchModels(MODELS_DIR, SHARED);
const MiB = 2 ** 20;
const status = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;
const mib = (b: number) => (Math.abs(b) < MiB ? `${(b / 1024).toFixed(0)} KiB` : `${(b / MiB).toFixed(1)} MiB`);
const options = (prepack = !noPrepack): ort.InferenceSession.SessionOptions => ({
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: 1,
  enableCpuMemArena: !noArena,
  logSeverityLevel: 4,
  ...(prepack ? {} : { extra: { session: { disable_prepacking: '1' } } }),
});
const settings = `prepacking ${noPrepack ? 'off' : 'on'}, arena ${noArena ? 'off' : 'on'}, GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES ?? '(unset)'}`;

async function cycle(): Promise<void> {
  const x = new ort.Tensor('float32', new Float32Array(2048).fill(0.5), [1, 2048]);
  const live: ort.InferenceSession[] = [];
  const marks = [`start ${mib(status('VmRSS'))}`];
  let loadMs = 0;
  for (let i = 0; i < models.cycle.length; i++) {
    const t = performance.now();
    const session = await ort.InferenceSession.create(models.cycle[i] as string, options());
    loadMs += performance.now() - t;
    await session.run({ x });
    live.push(session);
    if (live.length > 5) await live.shift()?.release();
    if (i % 4 === 3) marks.push(`${i + 1} loads ${mib(status('VmRSS'))}`);
  }
  console.log(`model file ${mib(models.cycleBytes)}; ${settings}: ${marks.join(', ')}; ${(loadMs / models.cycle.length).toFixed(0)} ms per load`);
}

async function footprint(): Promise<void> {
  const shared = readdirSync(SHARED, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => path.join(SHARED, d.name, 'model.onnx'));
  const files = [models.cycle[0] as string, models.heavy, models.mlp784, models.tiny, models.big, ...shared];
  console.log(`${settings}\n\n| model | file | kept per session | load peak |\n|---|---:|---:|---:|`);
  for (const file of files) {
    const name = path.relative(path.dirname(path.dirname(file)), file);
    try {
      await (await ort.InferenceSession.create(file, options())).release(); // first-load set-up is not the model's
      const live: ort.InferenceSession[] = [];
      const before = status('VmRSS');
      let peak = 0;
      for (let i = 0; i < 5; i++) {
        writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
        const start = status('VmRSS');
        live.push(await ort.InferenceSession.create(file, options()));
        peak = Math.max(peak, status('VmHWM') - start);
      }
      const kept = (status('VmRSS') - before) / 5;
      await Promise.all(live.map((s) => s.release()));
      const size = statSync(file).size;
      console.log(`| ${name} | ${mib(size)} | ${mib(kept)} (×${(kept / size).toFixed(2)}) | +${mib(peak)} (×${(peak / size).toFixed(2)}) |`);
    } catch (err) {
      console.log(`| ${name} | — | not loadable: ${(err as Error).message.split('\n')[0]?.slice(0, 60)} | |`);
    }
  }
}

async function medianRunUs(file: string, prepack: boolean, width: number, rows: number): Promise<number> {
  const session = await ort.InferenceSession.create(file, options(prepack));
  const x = new ort.Tensor('float32', new Float32Array(width * rows).fill(0.25), [rows, width]);
  const times: number[] = [];
  for (let i = 0; i < 400; i++) {
    const t = performance.now();
    await session.run({ x });
    if (i >= 50) times.push((performance.now() - t) * 1000);
  }
  await session.release();
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)] ?? NaN;
}

async function speed(): Promise<void> {
  console.log(`arena ${noArena ? 'off' : 'on'}, GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES ?? '(unset)'}; median run, µs (350 runs, alternated twice)\n`);
  console.log('| model | rows | prepacking on | prepacking off |\n|---|---:|---:|---:|');
  for (const [label, file, width, rows] of [['784-wide MLP', models.mlp784, 784, 1], ['784-wide MLP', models.mlp784, 784, 32], ['1024-wide MLP ×4', models.heavy, 1024, 8]] as const) {
    const on: number[] = [];
    const off: number[] = [];
    for (let round = 0; round < 2; round++) {
      on.push(await medianRunUs(file, true, width, rows));
      off.push(await medianRunUs(file, false, width, rows));
    }
    console.log(`| ${label} | ${rows} | ${on.map((u) => u.toFixed(0)).join(', ')} | ${off.map((u) => u.toFixed(0)).join(', ')} |`);
  }
}

if (process.argv.includes('--footprint')) await footprint();
else if (process.argv.includes('--speed')) await speed();
else await cycle();
