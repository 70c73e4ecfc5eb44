// PROCESSES=2: two gateway processes share one port; a scrape of either sees the sum over both;
// a process that dies is replaced; SIGTERM drains both and the primary exits 0.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableCores, parseSettings } from '../../src/config/settings.js';
import { makeTempDir, REPO_ROOT, sampleValue, writeFile } from '../support/harness.js';
import { doubler } from '../support/models.js';
import { runToExit, startServerProcess, type ServerProcess } from '../support/process.js';

const temp = makeTempDir();
let server: ServerProcess;

beforeAll(async () => {
  writeFile(temp.dir, 'm.onnx', doubler);
  const registry = writeFile(temp.dir, 'registry.yaml', 'models:\n  m:\n    versions:\n      "1": { uri: ./m.onnx, weight: 1 }\n');
  server = await startServerProcess(process.execPath, [path.join(REPO_ROOT, 'dist', 'server.js')], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: '0', PROCESSES: '2', INFERENCE_THREADS: '1', MODEL_REGISTRY: registry, MODEL_CACHE_DIR: path.join(temp.dir, 'cache'), ADMIN_TOKEN: 'processes-token' },
  });
  // Both processes warm: each loads the version once (cache per process).
  for (let i = 0; i < 100; i++) {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    if (sampleValue(text, 'gateway_models_loaded') === 2) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`both processes never loaded the model:\n${server.output()}`);
});
afterAll(() => {
  if (server.child.exitCode === null) server.child.kill('SIGKILL');
  temp.cleanup();
});

describe('cluster mode (PROCESSES=2)', () => {
  it('serves on one port from two processes, and every scrape sees the sum of both', async () => {
    expect([...server.output().matchAll(/"msg":"listening"/g)].length).toBe(2);
    const n = 60;
    // Fresh connections each time, so the primary's round-robin reaches both processes.
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        fetch(`${server.url}/predict`, { method: 'POST', headers: { connection: 'close' }, body: JSON.stringify({ model: 'm', inputs: { x: [[i]] } }) }).then((r) => r.json() as Promise<{ outputs: { y: number[][] } }>),
      ),
    );
    expect(answers.map((a) => a.outputs.y[0]?.[0])).toEqual(Array.from({ length: n }, (_, i) => 2 * i));
    for (let scrape = 0; scrape < 4; scrape++) {
      const text = await (await fetch(`${server.url}/metrics`, { headers: { connection: 'close' } })).text();
      expect(sampleValue(text, 'gateway_inference_requests_total', { model: 'm', version: '1', outcome: 'success' })).toBe(n);
      expect(sampleValue(text, 'gateway_model_loads_total', { model: 'm', version: '1', result: 'success' })).toBe(2);
      // A share is the same in every process: averaged, not summed.
      expect(sampleValue(text, 'gateway_traffic_weight', { model: 'm', version: '1' })).toBe(1);
    }
  });

  it('replaces a process that dies, and keeps serving', async () => {
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(server.child.pid)], { encoding: 'utf8' }).split('\n').map((l) => Number(l.trim())).filter((pid) => pid > 0);
    expect(children).toHaveLength(2);
    process.kill(children[0] as number, 'SIGKILL');
    for (let i = 0; i < 100 && [...server.output().matchAll(/"msg":"listening"/g)].length < 3; i++) await new Promise((r) => setTimeout(r, 100));
    expect(server.output()).toContain('gateway process died; starting another');
    expect([...server.output().matchAll(/"msg":"listening"/g)].length).toBe(3);
    const after = execFileSync('ps', ['-o', 'pid=', '--ppid', String(server.child.pid)], { encoding: 'utf8' }).split('\n').filter((l) => l.trim() !== '');
    expect(after).toHaveLength(2);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        fetch(`${server.url}/predict`, { method: 'POST', headers: { connection: 'close' }, body: JSON.stringify({ model: 'm', inputs: { x: [[i]] } }) }).then((r) => r.status),
      ),
    );
    expect(answers).toEqual(Array(10).fill(200));
    // The dead process left the hub: a reload asks only running processes (waiting on the dead
    // one would outlast this test, then answer 503).
    const reload = await fetch(`${server.url}/admin/reload`, { method: 'POST', headers: { authorization: 'Bearer processes-token', connection: 'close' } });
    expect([reload.status, ((await reload.json()) as { result: string }).result]).toEqual([200, 'unchanged']);
  });

  it('stops on SIGTERM: the primary forwards it, both processes drain, exit code 0', async () => {
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('all gateway processes stopped');
    // The two processes running at the time (one replaced the process killed above).
    expect([...server.output().matchAll(/"msg":"stopped"/g)].length).toBe(2);
  });
});

describe('cluster mode start-up failure', () => {
  it('exits 1 once, without starting processes forever, when the registry is invalid', async () => {
    const bad = writeFile(temp.dir, 'bad.yaml', 'models:\n  m:\n    versions:\n      "1": { uri: ./m.onnx, weight: -1 }\n');
    const { code, output } = await runToExit(process.execPath, [path.join(REPO_ROOT, 'dist', 'server.js')], {
      cwd: REPO_ROOT,
      env: { ...process.env, PORT: '0', PROCESSES: '2', MODEL_REGISTRY: bad, MODEL_CACHE_DIR: path.join(temp.dir, 'cache') },
    });
    expect(code).toBe(1);
    expect(output).toContain('must be >= 0');
    expect(output).toContain('a gateway process failed to start; stopping');
  });
});

describe('PROCESSES and INFERENCE_THREADS settings', () => {
  const cores = os.availableParallelism();
  it('defaults to one process per core (auto), sharing the cores among their threads', () => {
    const s = parseSettings({});
    expect([s.processes, s.inferenceThreads, s.inferenceHangSeconds]).toEqual([cores, 1, 60]); // cores ÷ processes
    const auto = parseSettings({ PROCESSES: 'auto' });
    expect([auto.processes, auto.inferenceThreads]).toEqual([cores, 1]);
    expect(parseSettings({ PROCESSES: '' }).processes).toBe(cores);
  });
  it('counts the cores of a container CPU limit (cgroup v2 or v1), not the whole machine', () => {
    const files = (map: Record<string, string>) => (file: string) => {
      const text = map[file];
      if (text === undefined) throw new Error(`ENOENT ${file}`);
      return text;
    };
    expect(availableCores(files({}))).toBe(cores);
    expect(availableCores(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }))).toBe(cores);
    expect(availableCores(files({ '/sys/fs/cgroup/cpu.max': '100000 100000\n' }))).toBe(1);
    expect(availableCores(files({ '/sys/fs/cgroup/cpu.max': '50000 100000\n' }))).toBe(1); // half a CPU: one process
    expect(availableCores(files({ '/sys/fs/cgroup/cpu.max': `${cores * 400000} 100000` }))).toBe(cores); // never more than the machine
    expect(availableCores(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBe(cores);
    expect(availableCores(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '100000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBe(1);
    // PROCESSES=auto follows those cores; the threads share them.
    expect([parseSettings({}, 1).processes, parseSettings({}, 1).inferenceThreads]).toEqual([1, 1]);
    expect([parseSettings({}, 4).processes, parseSettings({}, 4).inferenceThreads]).toEqual([4, 1]);
    expect([parseSettings({ PROCESSES: '2' }, 4).processes, parseSettings({ PROCESSES: '2' }, 4).inferenceThreads]).toEqual([2, 2]);
  });

  it('takes explicit values, 0 threads meaning inference on the event loop', () => {
    const s = parseSettings({ PROCESSES: '1', INFERENCE_THREADS: '0', INFERENCE_HANG_SECONDS: '2.5' });
    expect([s.processes, s.inferenceThreads, s.inferenceHangSeconds]).toEqual([1, 0, 2.5]);
    expect(parseSettings({ PROCESSES: '1' }).inferenceThreads).toBe(cores);
  });
  it('refuses nonsense naming the variable', () => {
    expect(() => parseSettings({ PROCESSES: '0', INFERENCE_THREADS: '-1', INFERENCE_HANG_SECONDS: '0' })).toThrow(
      /PROCESSES=0: must be an integer from 1 to 256, or auto[\s\S]*INFERENCE_THREADS=-1[\s\S]*INFERENCE_HANG_SECONDS=0/,
    );
  });
});
