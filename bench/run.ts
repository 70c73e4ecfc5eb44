// npm run bench — bare Koa, the hand-written inline server and the gateway, each its own process,
// driven by autocannon on loopback, alternated round by round so the machine's noise (it is
// shared) hits all of them. Prints a Markdown table and the issue's targets, met or missed by how
// much. Bounded: BENCH_SECONDS per run (5), BENCH_ROUNDS (2), BENCH_CONNECTIONS ("1,16,50"),
// BENCH_CYCLE_SECONDS (30); a full run takes about 8 minutes.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { floats, nestRows, predict, v2Binary, v2Json } from './bodies.js';
import { cannon, probe, type LoadResult, type Shot } from './load.js';
import { buildBenchModels, MODELS_DIR } from './models.js';
import { mean, table, targets, type Row, type Target } from './report.js';
import { machineIdleSeconds, npmStartLaunch, ROOT, startServer, treeCpuSeconds, type Server } from './spawn.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '1,16,50').split(',').map(Number);
const CYCLE_SECONDS = Number(process.env.BENCH_CYCLE_SECONDS ?? 30);
// BENCH_ONLY=tiny,mnist,batching,binary,isolation,cold,cycle runs only those scenarios.
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const want = (name: string): boolean => !ONLY || ONLY.includes(name);
const started = Date.now();

const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-bench-'));
const SHARED = path.resolve(ROOT, '..', 'shared', 'models');
const models = buildBenchModels(MODELS_DIR, SHARED);
const rows: Row[] = [];
const checks: Target[] = [];
const notes: string[] = [];

function registry(name: string, yaml: string): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  return file;
}
const one = (model: string, uri: string, extra = '') => `models:\n  ${model}:\n    versions:\n      "1": { uri: ${uri}, weight: 1${extra} }\n`;

type Kind = 'bare' | 'naive' | 'gateway';
interface Contender {
  readonly label: string;
  readonly kind: Kind;
  start(): Promise<Server>;
  /** The gateway's log lines (stdout), kept to report where its versions ran. */
  readonly logFile?: string;
}
const bare: Contender = { label: 'bare Koa hello', kind: 'bare', start: () => startServer('bare', 'bench/servers/bare.ts') };
const naive = (model: string): Contender => ({ label: 'naive inline', kind: 'naive', start: () => startServer('naive', 'bench/servers/naive.ts', { env: { MODEL: model } }) });
// The same server in one process per core: what the issue's prototypes found "passed both
// throughput targets", measured here beside the gateway.
const naiveCluster = (model: string): Contender => ({
  label: `naive inline, ${os.availableParallelism()} processes`,
  kind: 'naive',
  start: () => startServer('naive-cluster', 'bench/servers/naive-cluster.ts', { env: { MODEL: model } }),
});
// The gateway as `npm start` runs it (node flags, malloc settings); `env` may override.
const launch = npmStartLaunch();
// Its log lines go to /dev/null (written, not kept), except with `keepLog`: a file costs a little
// more CPU per line, so only scenarios that report placement keep one.
let logFiles = 0;
function gateway(label: string, reg: string, env: Record<string, string> = {}, { nodeArgs = launch.nodeArgs, keepLog = false }: { nodeArgs?: readonly string[]; keepLog?: boolean } = {}): Contender {
  const logFile = keepLog ? path.join(dir, `gateway-${++logFiles}.log`) : undefined;
  return {
    label,
    kind: 'gateway',
    ...(logFile === undefined ? {} : { logFile }),
    start: () => startServer(label, 'dist/server.js', { env: { MODEL_REGISTRY: reg, MODEL_ROOTS: `${dir}:${MODELS_DIR}:${SHARED}`, ...launch.env, ...env }, readyPath: '/v2/health/ready', nodeArgs, logFile }),
  };
}

/**
 * Where the gateway's processes ran the version, from its `inference_placement` log lines: the
 * decision is made per process from measured run times (inference/pool/pooled-session.ts), and a
 * run time near the threshold can land either way, which moves req/s (docs/benchmarks.md).
 */
function placements(logFile: string | undefined): string | undefined {
  if (logFile === undefined || !existsSync(logFile)) return undefined;
  const byProcess = new Map<number | undefined, string[]>();
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.includes('"inference_placement"')) continue;
    let event: { pid?: number; where?: string; us?: number };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      continue; // a line still being written
    }
    byProcess.set(event.pid, [...(byProcess.get(event.pid) ?? []), `${event.where ?? '?'} (${event.us ?? '?'} µs)`]);
  }
  // Each process's moves in order, e.g. "inline (150 µs) → worker (230 µs)" for a failed trial.
  const moves = [...byProcess.values()].map((m) => m.join(' → '));
  return moves.length > 0 ? `placement per process: ${moves.join('; ')}` : undefined;
}

/**
 * One autocannon run, with the server's CPU (all its processes) per request, the load
 * generator's, and how idle the machine was: where no CPU is idle, the server's throughput is
 * bounded by its CPU per request and the load generator's together (both share these CPUs).
 */
async function measured(s: Server, shot: Shot, n: number): Promise<LoadResult> {
  const pid = s.child.pid ?? -1;
  const before = treeCpuSeconds(pid);
  const client = process.cpuUsage();
  const idle = machineIdleSeconds();
  const t0 = performance.now();
  const r = await cannon(s.url, shot, n, SECONDS);
  const wall = (performance.now() - t0) / 1000;
  const requests = Math.max(1, r.rps * SECONDS);
  const cpuUs = ((treeCpuSeconds(pid) - before) * 1e6) / requests;
  const { user, system } = process.cpuUsage(client);
  // /proc/stat counts every CPU of the machine, whichever this process may use.
  const idlePct = ((machineIdleSeconds() - idle) / (wall * os.cpus().length)) * 100;
  return { ...r, cpuUs, clientCpuUs: (user + system) / requests, idlePct };
}

/** Each contender in its own process; rounds alternate the order; results averaged per contender. */
async function compare(scenario: string, contenders: readonly Contender[], shotFor: (c: Contender) => Shot, conns: readonly number[]): Promise<Map<string, Map<number, LoadResult | undefined>>> {
  const servers = new Map<Contender, Server | undefined>();
  for (const c of contenders) {
    try {
      const s = await c.start();
      // Warm-up: JIT, and the gateway's inline decision for tiny models.
      await cannon(s.url, shotFor(c), 8, 2);
      servers.set(c, s);
    } catch (err) {
      servers.set(c, undefined);
      notes.push(`${scenario} / ${c.label}: not available (${(err as Error).message.split('\n')[0]})`);
    }
  }
  const out = new Map<string, Map<number, LoadResult | undefined>>();
  for (const n of conns) {
    const runs = new Map<Contender, LoadResult[]>();
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const c of order) {
        const s = servers.get(c);
        if (s) runs.set(c, [...(runs.get(c) ?? []), await measured(s, shotFor(c), n)]);
      }
    }
    for (const c of contenders) {
      const r = mean(runs.get(c) ?? []);
      const note = servers.get(c) ? placements(c.logFile) : 'not available';
      rows.push({ scenario, server: c.label, connections: n, result: r, ...(note === undefined ? {} : { note }) });
      if (!out.has(c.label)) out.set(c.label, new Map());
      out.get(c.label)?.set(n, r);
    }
  }
  await Promise.all([...servers.values()].map((s) => s?.stop()));
  return out;
}

const cpuRatio = (a: LoadResult | undefined, b: LoadResult | undefined): string =>
  a?.cpuUs !== undefined && b?.cpuUs !== undefined && b.cpuUs > 0 ? (a.cpuUs / b.cpuUs).toFixed(2) : '—';
const ratio = (a: LoadResult | undefined, b: LoadResult | undefined) => (a && b && b.rps > 0 ? a.rps / b.rps : undefined);
const log = (msg: string) => console.error(`[${((Date.now() - started) / 1000).toFixed(0)}s] ${msg}`);

// 1. Tiny MLP (4→8→3), JSON /predict: one process and the cluster (one process per core).
if (want('tiny')) {
  log('tiny MLP');
  const reg = registry('tiny', one('tiny', models.tiny));
  const shot = predict('tiny', 'x', [[0.1, 0.2, 0.3, 0.4]]);
  const gw1 = gateway('gateway, 1 process', reg, { PROCESSES: '1' });
  const gwN = gateway(`gateway, PROCESSES=${os.availableParallelism()}`, reg, { PROCESSES: 'auto' });
  const nN = naiveCluster(models.tiny);
  const r = await compare('tiny MLP JSON', [bare, naive(models.tiny), nN, gw1, gwN], (c) => (c.kind === 'bare' ? { path: '/', body: '' } : shot), CONNECTIONS);
  for (const n of CONNECTIONS) {
    for (const g of [gw1, gwN]) {
      const gn = ratio(r.get(g.label)?.get(n), r.get('naive inline')?.get(n));
      const gb = ratio(r.get(g.label)?.get(n), r.get(bare.label)?.get(n));
      rows.push({ scenario: 'tiny MLP JSON', server: `ratio ${g.label}`, connections: n, result: undefined, note: `gateway/naive ${gn?.toFixed(2) ?? '—'}, gateway/bare ${gb?.toFixed(2) ?? '—'}; CPU per request gateway/naive ${cpuRatio(r.get(g.label)?.get(n), r.get('naive inline')?.get(n))}` });
      if (g === gwN) {
        const nb = ratio(r.get(nN.label)?.get(n), r.get(bare.label)?.get(n));
        const gc = ratio(r.get(g.label)?.get(n), r.get(nN.label)?.get(n));
        rows.push({ scenario: 'tiny MLP JSON', server: `ratio ${nN.label}`, connections: n, result: undefined, note: `naive in ${os.availableParallelism()} processes/bare ${nb?.toFixed(2) ?? '—'}; gateway, PROCESSES=${os.availableParallelism()} / it ${gc?.toFixed(2) ?? '—'}` });
      }
      if (n === Math.max(...CONNECTIONS)) {
        checks.push({ name: `tiny MLP: ${g.label} / naive, ${n} conns`, value: gn, bound: 1, higherIsBetter: true, unit: '×' });
        checks.push({ name: `tiny MLP: ${g.label} / bare, ${n} conns`, value: gb, bound: 0.5, higherIsBetter: true, unit: '×' });
      }
    }
  }
}

// 2. mnist-8 (a real published model), when ../shared/models holds it.
if (models.mnist && want('mnist')) {
  log('mnist-8');
  const reg = registry('mnist', one('mnist', models.mnist));
  const pixels = floats(784);
  const nested = [[nestRows(pixels, 28)]];
  const shot = predict('mnist', 'Input3', nested);
  await compare('mnist-8 JSON', [naive(models.mnist), gateway('gateway, 1 process', reg, { PROCESSES: '1' }), gateway('gateway, PROCESSES=auto', reg, { PROCESSES: 'auto' })], () => shot, [50]);
} else if (want('mnist')) {
  notes.push('mnist-8: ../shared/models/mnist-8 not found; skipped');
}

// 3. 784-wide MLP at 64 connections: dynamic batching off vs on (registry `batching`), as the
// gateway starts by default (one process per core) and in one process, where one event loop's
// JSON and HTTP work caps what batching can add (docs/benchmarks.md).
if (want('batching')) {
  log('784-wide MLP batching');
  const off = registry('mlp784-off', one('mlp', models.mlp784));
  const on = registry('mlp784-on', one('mlp', models.mlp784, ', batching: { maxBatchSize: 32, maxDelayMs: 2 }'));
  const shot = predict('mlp', 'x', [floats(784)]);
  for (const processes of ['auto', '1']) {
    const label = processes === 'auto' ? 'default processes' : '1 process';
    // Only batching off can move inline (a batching version stays on its worker), so only its
    // log is kept for the placement note.
    const [offC, onC] = [
      gateway(`gateway, batching off, ${label}`, off, { PROCESSES: processes }, { keepLog: true }),
      gateway(`gateway, batching on, ${label}`, on, { PROCESSES: processes }),
    ];
    const r = await compare('784-wide MLP, 64 conns', processes === 'auto' ? [naive(models.mlp784), offC, onC] : [offC, onC], () => shot, [64]);
    const b = ratio(r.get(onC.label)?.get(64), r.get(offC.label)?.get(64));
    checks.push({ name: `784-wide MLP at 64 conns: batching on / off, ${label}`, value: b, bound: 2, higherIsBetter: true, unit: '×' });
  }
}

// 4. A shufflenet-sized input (150,528 floats): V2 JSON vs the binary data extension.
if (want('binary')) {
  log('150k-float input: JSON vs binary');
  const reg = registry('big', one('big', models.big));
  const shape = [1, 3, 224, 224];
  const data = floats(150_528);
  // As bytes, so JSON and binary are both sent from this thread (bench/load.ts).
  const jsonText = v2Json('big', 'x', shape, data);
  const json = { ...jsonText, body: Buffer.from(jsonText.body) };
  const binary = v2Binary('big', 'x', shape, data);
  // Binary is available when the gateway answers a binary request with 200.
  const gw = await gateway('gateway', reg, { PROCESSES: '1' }).start();
  const res = await fetch(`${gw.url}${binary.path}`, { method: 'POST', headers: binary.headers, body: binary.body as Buffer });
  const binaryOk = res.ok;
  await gw.stop();
  const contenders = [gateway('gateway, V2 JSON', reg, { PROCESSES: '1' }), ...(binaryOk ? [gateway('gateway, V2 binary', reg, { PROCESSES: '1' })] : [])];
  const r = await compare('150,528-float input', contenders, (c) => (c.label.endsWith('binary') ? binary : json), [16]);
  if (!binaryOk) rows.push({ scenario: '150,528-float input', server: 'gateway, V2 binary', connections: 16, result: undefined, note: `not available (answered ${res.status})` });
  const b = binaryOk ? ratio(r.get('gateway, V2 binary')?.get(16), r.get('gateway, V2 JSON')?.get(16)) : undefined;
  checks.push({ name: '150k-float input: binary / JSON req/s', value: b, bound: 5, higherIsBetter: true, unit: '×', ...(binaryOk ? {} : { detail: `a binary request answered ${res.status}: the binary extension is not merged` }) });
}

// 5. Light-model latency while a heavy model (1024-wide, 5 layers) is saturated by 16 connections:
// in one process (the target: isolation inside a gateway), and with the default PROCESSES.
for (const processes of want('isolation') ? ['1', 'auto'] : []) {
  log(`isolation, PROCESSES=${processes}`);
  const reg = registry('iso', `models:\n  light:\n    versions: { "1": { uri: ${models.tiny}, weight: 1 } }\n  heavy:\n    versions: { "1": { uri: ${models.heavy}, weight: 1 } }\n`);
  const gw = await gateway('gateway', reg, { PROCESSES: processes }).start();
  const light = predict('light', 'x', [[0.1, 0.2, 0.3, 0.4]]);
  const heavy = predict('heavy', 'x', nestRows(floats(8 * 1024), 8));
  await cannon(gw.url, light, 8, 2);
  await cannon(gw.url, heavy, 4, 2);
  const idle = await probe(gw.url, light, SECONDS);
  const [busy, load] = await Promise.all([probe(gw.url, light, SECONDS), cannon(gw.url, heavy, 16, SECONDS)]);
  await gw.stop();
  const us = (v: number) => `${(v / 1000).toFixed(2)} ms`;
  const server = `gateway, PROCESSES=${processes}`;
  rows.push({ scenario: 'isolation: heavy 1024-wide MLP', server, connections: 16, result: load, note: 'the heavy load itself' });
  rows.push({ scenario: 'isolation: light probe, heavy idle', server, connections: 1, result: undefined, note: `p50 ${us(idle.p50)}, p99 ${us(idle.p99)} (${idle.count} requests, ${idle.errors} errors)` });
  rows.push({ scenario: 'isolation: light probe, heavy saturated', server, connections: 1, result: undefined, note: `p50 ${us(busy.p50)}, p99 ${us(busy.p99)} (${busy.count} requests, ${busy.errors} errors)` });
  checks.push({ name: `light p99 with heavy saturated / heavy idle, PROCESSES=${processes}`, value: busy.p99 / idle.p99, bound: 3, higherIsBetter: false, unit: '×' });
}

// 6. 50 concurrent first requests to a cold version: one load (per process).
if (want('cold')) {
  log('cold version');
  for (const processes of ['1', 'auto']) {
    const reg = registry(`cold-${processes}`, `models:\n  m:\n    versions:\n      "1": { uri: ${models.tiny}, weight: 1 }\n      "2": { uri: ${models.mlp784}, weight: 0 }\n`);
    const gw = await gateway('gateway', reg, { PROCESSES: processes }).start();
    const shot = predict('m', 'x', [floats(784)], { 'x-model-version': '2', connection: 'close' });
    const answers = await Promise.all(Array.from({ length: 50 }, () => fetch(`${gw.url}/predict`, { method: 'POST', headers: shot.headers, body: shot.body as string }).then((r) => r.status)));
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    await gw.stop();
    const m = /gateway_model_loads_total\{[^}]*version="2"[^}]*result="success"[^}]*\} (\d+)/.exec(text) ?? /gateway_model_loads_total\{[^}]*result="success"[^}]*version="2"[^}]*\} (\d+)/.exec(text);
    const loads = m ? Number(m[1]) : NaN;
    const ok = answers.filter((s) => s === 200).length;
    const n = processes === '1' ? 1 : os.availableParallelism();
    rows.push({ scenario: '50 concurrent first requests, cold version', server: `gateway, PROCESSES=${processes}`, connections: 50, result: undefined, note: `${ok}/50 answered 200; gateway_model_loads_total = ${loads}` });
    checks.push({ name: `cold version, ${n} process(es): loads ≤ one per process`, value: loads, bound: n, higherIsBetter: false, unit: '' });
  }
}

// 7. 20 versions of a 16 MiB model cycling through a cache of 5: RSS over time. Twice: started as
// `npm start` starts it (with its GLIBC_TUNABLES: glibc returns model-sized blocks to the OS; and
// its young-generation cap), and as a bare `node dist/server.js` (glibc's and V8's defaults), to
// show what those settings are worth.
if (want('cycle')) {
  const maxBytes = 5 * models.cycleBytes + 1024;
  const versions = models.cycle.map((uri, i) => `      "${i + 1}": { uri: ${uri}, weight: ${i === 0 ? 1 : 0} }`).join('\n');
  const reg = registry('cycle', `cache:\n  maxModels: 5\n  maxBytes: ${maxBytes}\nmodels:\n  c:\n    versions:\n${versions}\n`);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const bound = Math.round((maxBytes + 100e6) / 2 ** 20);
  for (const [label, env, nodeArgs] of [['gateway, as `npm start`', {}, launch.nodeArgs], ['gateway, bare node (glibc and V8 defaults)', { GLIBC_TUNABLES: '' }, []]] as const) {
    log(`cache cycling: ${label}`);
    const gw = await gateway('gateway', reg, { PROCESSES: '1', ...env }, { nodeArgs }).start();
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gw.child.pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
    const startRss = rss();
    const samples: number[] = [];
    const timer = setInterval(() => samples.push(rss()), 250);
    const body = JSON.stringify({ model: 'c', inputs: { x: [floats(2048)] } });
    let served = 0;
    let failed = 0;
    const end = Date.now() + CYCLE_SECONDS * 1000;
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = w; Date.now() < end; i += 4) {
          const res = await fetch(`${gw.url}/predict`, { method: 'POST', headers: { 'x-model-version': String((i % 20) + 1) }, body });
          await res.arrayBuffer();
          if (res.ok) served++;
          else failed++;
        }
      }),
    );
    clearInterval(timer);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    await gw.stop();
    const sum = (name: string) => [...metrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
    const max = Math.max(...samples);
    const over = (s: number) => samples.slice(0, Math.ceil(samples.length * s)).at(-1) ?? NaN;
    rows.push({
      scenario: '20 × 16 MiB versions through a 5-model cache',
      server: label,
      connections: 4,
      result: undefined,
      note: `${served} served, ${failed} failed, ${sum('gateway_model_evictions_total')} evictions; RSS at start ${mib(startRss)}, at 25/50/75/100% ${[0.25, 0.5, 0.75, 1].map((s) => mib(over(s))).join(' / ')}, max ${mib(max)}; cache.maxBytes ${mib(maxBytes)}, counted at the end ${mib(sum('gateway_model_cache_bytes'))} in ${sum('gateway_models_loaded')} versions`,
    });
    checks.push({ name: `cache cycling, ${label}: max RSS (MiB) vs cache.maxBytes + 100 MB`, value: max / 2 ** 20, bound, higherIsBetter: false, unit: '' });
    checks.push({ name: `cache cycling, ${label}: RSS growth over start (MiB) vs cache.maxBytes + 100 MB`, value: (max - startRss) / 2 ** 20, bound, higherIsBetter: false, unit: '' });
  }
}

console.log(`\n## Results (${SECONDS} s per run, ${ROUNDS} rounds alternated, ${((Date.now() - started) / 60000).toFixed(1)} min in all)\n`);
console.log(table(rows));
console.log('\n## Targets\n');
console.log(targets(checks));
if (notes.length > 0) console.log(`\n${notes.map((n) => `- ${n}`).join('\n')}`);
process.exit(0);
