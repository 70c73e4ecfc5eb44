// npm run bench:profile — a server's main thread under autocannon, from `node --cpu-prof`:
// CPU µs per request in total and by function (self time), to find per-request work.
// PROFILE_TARGET=gateway|naive, PROFILE_MODEL=tiny|heavy (8 rows into the 1024-wide MLP)|mlp784
// (one row into the 784-wide MLP, 64 connections, as the batching scenario);
// PROFILE_BATCHING=maxBatchSize,maxDelayMs turns on the registry's batching for the gateway.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { floats, nestRows, predict } from './bodies.js';
import { cannon } from './load.js';
import { buildBenchModels, MODELS_DIR } from './models.js';
import { cpuSeconds, npmStartLaunch, procStat, ROOT, startServer } from './spawn.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const MODEL = process.env.PROFILE_MODEL ?? 'tiny';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? (MODEL === 'heavy' ? 16 : MODEL === 'mlp784' ? 64 : 50));

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-profile-'));
const models = buildBenchModels(MODELS_DIR, path.resolve(ROOT, '..', 'shared', 'models'));
const model = MODEL === 'heavy' ? models.heavy : MODEL === 'mlp784' ? models.mlp784 : models.tiny;
const [maxBatchSize, maxDelayMs] = (process.env.PROFILE_BATCHING ?? '').split(',').map(Number);
const batching = maxBatchSize ? `, batching: { maxBatchSize: ${maxBatchSize}, maxDelayMs: ${maxDelayMs ?? 0} }` : '';
const registry = path.join(dir, 'registry.yaml');
writeFileSync(registry, `models:\n  m:\n    versions: { "1": { uri: ${model}, weight: 1${batching} } }\n`);
const profDir = path.join(dir, 'prof');
const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
// The gateway as `npm start` runs it (its node flags and malloc settings), in one process.
const launch = npmStartLaunch();
writeFileSync(path.join(dir, 'gateway.log'), '');
const gw =
  process.env.PROFILE_TARGET === 'naive'
    ? await startServer('naive', 'bench/servers/naive.ts', { env: { MODEL: model }, nodeArgs })
    : await startServer('gateway', 'dist/server.js', {
        env: { MODEL_REGISTRY: registry, MODEL_ROOTS: `${dir}:${MODELS_DIR}`, ...launch.env, PROCESSES: '1', ...(process.env.PROFILE_LOG_LEVEL ? { LOG_LEVEL: process.env.PROFILE_LOG_LEVEL } : {}) },
        nodeArgs: [...launch.nodeArgs, ...nodeArgs],
        readyPath: '/v2/health/ready',
        logFile: path.join(dir, 'gateway.log'),
      });
const input = MODEL === 'heavy' ? nestRows(floats(8 * 1024), 8) : MODEL === 'mlp784' ? [floats(784)] : [[0.1, 0.2, 0.3, 0.4]];
const shot = predict('m', 'x', input);
const warm = await cannon(gw.url, shot, CONNECTIONS, 2); // warm-up: JIT, inline decision
const cpuBefore = threadCpu(gw.child.pid as number);
const r = await cannon(gw.url, shot, CONNECTIONS, SECONDS);
const cpuAfter = threadCpu(gw.child.pid as number);
await gw.stop();

// CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: the main thread is thread 0.
const file = readdirSync(profDir).find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
if (!file) throw new Error('no profile written');
const prof = JSON.parse(readFileSync(path.join(profDir, file), 'utf8')) as Profile;
const byNode = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let busy = 0;
prof.samples.forEach((id, i) => {
  const node = byNode.get(id);
  const dt = prof.timeDeltas[i] ?? 0;
  const f = node?.callFrame;
  const name = f ? `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|src)\//, '')}:${f.lineNumber + 1}` : '?';
  if (f?.functionName !== '(idle)') busy += dt;
  self.set(name, (self.get(name) ?? 0) + dt);
});
// The profile covers warm-up and the run; requests of both count.
const requests = warm.rps * 2 + r.rps * SECONDS;
console.log(`${r.rps.toFixed(0)} req/s at ${CONNECTIONS} connections; profile ${file}`);
console.log(`main thread busy ${(busy / 1000).toFixed(0)} ms over ${requests.toFixed(0)} requests: ${(busy / requests).toFixed(1)} µs per request (idle excluded)`);
// CPU time from /proc over the measured run alone (the profile's samples count wall time, so a
// thread descheduled on a busy machine looks busy): the event loop against everything else.
const measured = r.rps * SECONDS;
const mainCpu = (cpuAfter.get(gw.child.pid as number) ?? 0) - (cpuBefore.get(gw.child.pid as number) ?? 0);
let otherCpu = 0;
for (const [tid, ms] of cpuAfter) if (tid !== gw.child.pid) otherCpu += ms - (cpuBefore.get(tid) ?? 0);
console.log(`CPU over the measured run (/proc): event loop ${((mainCpu * 1000) / measured).toFixed(1)} µs per request, other threads (inference workers, GC helpers) ${((otherCpu * 1000) / measured).toFixed(1)} µs per request`);
console.log(`top self time, µs per request:`);
for (const [name, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`  ${(us / requests).toFixed(2).padStart(7)}  ${name}`);
}
console.log('by part, µs per request:');
const parts = new Map<string, number>();
prof.samples.forEach((id, i) => {
  const f = byNode.get(id)?.callFrame;
  if (!f || f.functionName === '(idle)') return;
  const part = partOf(f.url, f.functionName);
  parts.set(part, (parts.get(part) ?? 0) + (prof.timeDeltas[i] ?? 0));
});
for (const [part, us] of [...parts.entries()].sort((a, b) => b[1] - a[1])) console.log(`  ${(us / requests).toFixed(1).padStart(7)}  ${part}`);
console.log(`profile kept in ${profDir}`);
for (const line of readFileSync(path.join(dir, 'gateway.log'), 'utf8').split('\n')) if (line.includes('inference_placement')) console.log(line);

function partOf(url: string, fn: string): string {
  if (url.includes('onnxruntime')) return 'onnxruntime (run + its JS wrapper)';
  if (/node_modules\/(koa|@koa|delegates|koa-compose|on-finished|statuses|mime-types|content-type|type-is|accepts|vary|encodeurl|escape-html|koa-bodyparser|co-body|raw-body|@hapi|inflation|destroy)/.test(url)) return 'koa, router, body reading';
  if (url.includes('pino') || url.includes('sonic-boom')) return 'pino (logging)';
  if (url.includes('prom-client')) return 'prom-client (metrics)';
  if (url.includes('zod')) return 'zod (request schema)';
  if (/\/(dist|src)\//.test(url) || url.includes('bench/servers')) return 'own code (gateway, or the naive handler)';
  if (url.startsWith('node:')) return 'node internals (http, streams, events)';
  if (['writev', 'writeString', 'writeUtf8String', 'writeBuffer'].includes(fn)) return 'socket and stdout writes (native)';
  if (fn === '(garbage collector)') return 'garbage collector';
  return 'other (program, microtasks, native)';
}

/** CPU milliseconds (user + system) of each thread of process `pid`, from /proc (Linux). */
function threadCpu(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const fields = procStat(`/proc/${pid}/task/${tid}/stat`);
      if (fields) out.set(Number(tid), cpuSeconds(fields) * 1000);
    }
  } catch {
    // not Linux, or the process is gone
  }
  return out;
}
