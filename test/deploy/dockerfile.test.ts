// No Docker engine runs on CI machines, so the image cannot be built with docker here. Instead
// the Dockerfile is checked for structure, then its stages are carried out by a small
// interpreter (WORKDIR, COPY, ENV, RUN; each stage in its own temp root on this machine's Node),
// and the resulting runtime tree is inspected and served from as an unprivileged user.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, REPO_ROOT } from '../support/harness.js';
import { startServerProcess } from '../support/process.js';

interface Instruction {
  readonly op: string;
  readonly args: string;
}

interface Stage {
  readonly name: string;
  readonly base: string;
  readonly steps: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const line of lines) {
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?: AS (\S+))?$/i.exec(args);
      stages.push({ base: m?.[1] ?? '', name: m?.[2] ?? String(stages.length), steps: [] });
    } else {
      stages.at(-1)?.steps.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

const stages = parseDockerfile(readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const runtime = stages.at(-1) as Stage;
const steps = (stage: Stage, op: string) => stage.steps.filter((s) => s.op === op).map((s) => s.args);

describe('Dockerfile', () => {
  it('builds in one stage and runs from a slim Node 22 stage without dev dependencies or sources', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    expect(runtime.base).toMatch(/^node:22-[a-z]+-slim$/);
    const install = steps(runtime, 'RUN').find((r) => r.includes('npm ci'));
    expect(install).toContain('--omit=dev');
    expect(install).toContain('--ignore-scripts');
    const copies = steps(runtime, 'COPY');
    expect(copies).toContain('--from=build /app/dist ./dist');
    expect(copies.some((c) => /node_modules|src|test/.test(c))).toBe(false);
  });

  it('runs as the non-root node user, node as PID 1 with the exec form', () => {
    expect(steps(runtime, 'USER').at(-1)).toBe('node');
    // node itself (PID 1), with the same node command and flags as `npm start` (README "Memory").
    const start = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
    const command = /exec node ((?:--\S+ )*)dist\/server\.js$/.exec(start);
    expect(command, start).not.toBeNull();
    const flags = command?.[1]?.split(' ').filter(Boolean) ?? [];
    expect(JSON.parse(steps(runtime, 'CMD').at(-1) ?? 'null')).toEqual(['node', ...flags, 'dist/server.js']);
    expect(steps(runtime, 'ENV').join(' ')).toContain('PORT=8080');
  });

  it('.dockerignore keeps node_modules, dist and tests out of the build context', () => {
    const ignored = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', 'dist', 'test', '.git']) expect(ignored).toContain(entry);
  });
});

describe('the Dockerfile, carried out stage by stage', () => {
  const temp = makeTempDir('mg-image-');
  const roots = new Map<string, { root: string; workdir: string; env: Record<string, string> }>();
  const ignored = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').filter(Boolean);
  const inContext = (src: string) => !ignored.some((i) => path.relative(REPO_ROOT, src).split(path.sep)[0] === i);

  beforeAll(() => {
    for (const stage of stages) {
      const root = path.join(temp.dir, stage.name);
      const state = { root, workdir: path.join(root, 'app'), env: {} as Record<string, string> };
      roots.set(stage.name, state);
      for (const { op, args } of stage.steps) {
        if (op === 'WORKDIR') {
          state.workdir = path.join(root, args);
          mkdirSync(state.workdir, { recursive: true });
        } else if (op === 'ENV') {
          for (const m of args.matchAll(/(\w+)=(\S+)/g)) state.env[m[1] ?? ''] = m[2] ?? '';
        } else if (op === 'COPY') {
          const parts = args.split(/\s+/);
          const from = parts[0]?.startsWith('--from=') ? roots.get(parts.shift()?.slice(7) ?? '')?.root : undefined;
          const rawDest = parts.pop() ?? '.';
          const dest = path.resolve(state.workdir, rawDest);
          // Docker: a directory's contents go to dest; a file goes into dest when dest ends in
          // "/" or several sources are given, else becomes dest.
          const intoDir = rawDest.endsWith('/') || parts.length > 1;
          for (const src of parts) {
            const source = from ? path.join(from, src) : path.join(REPO_ROOT, src);
            const target = statSync(source).isDirectory() || !intoDir ? dest : path.join(dest, path.basename(src));
            cpSync(source, target, { recursive: true, filter: from ? undefined : inContext });
          }
        } else if (op === 'RUN') {
          const command = args.replace(/^(--mount=\S+\s+)+/, '');
          execFileSync('sh', ['-ec', command], { cwd: state.workdir, env: { ...process.env, ...state.env }, stdio: 'pipe', timeout: 300_000 });
        }
      }
    }
    chmodSync(temp.dir, 0o755); // readable by an unprivileged user, as the image is by `node`
  }, 600_000);
  afterAll(() => temp.cleanup());

  const app = () => roots.get('runtime')?.workdir ?? '';

  function files(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(path.join(dir, d.name)) : [path.join(dir, d.name)]));
  }

  it('holds compiled code and config only, no sources or tests', () => {
    expect(readdirSync(app()).sort()).toEqual(['.npmrc', 'config', 'dist', 'node_modules', 'package-lock.json', 'package.json', 'proto']);
    expect(existsSync(path.join(app(), 'proto/open_inference_grpc.proto'))).toBe(true); // loaded by dist/grpc at run time
    expect(existsSync(path.join(app(), 'dist/server.js'))).toBe(true);
    expect(existsSync(path.join(app(), 'config/models.yaml'))).toBe(true);
  });

  it('installs no dev dependencies, and no GPU or other-platform onnxruntime libraries', () => {
    const modules = path.join(app(), 'node_modules');
    for (const dev of ['typescript', 'vitest', 'tsx', 'onnx-proto', 'ajv']) expect(existsSync(path.join(modules, dev)), dev).toBe(false);
    for (const prod of ['koa', 'onnxruntime-node', '@google-cloud/storage', 'prom-client']) expect(existsSync(path.join(modules, prod)), prod).toBe(true);
    const all = files(modules);
    expect(all.filter((f) => /cuda|cudnn|tensorrt|directml|\.dll$|\.dylib$/i.test(f))).toEqual([]);
    expect(readdirSync(path.join(modules, 'onnxruntime-node/bin/napi-v6'))).toEqual(['linux']);
    expect(readdirSync(path.join(modules, 'onnxruntime-node/bin/napi-v6/linux'))).toEqual([process.arch]);
    const megabytes = all.reduce((n, f) => n + statSync(f).size, 0) / 2 ** 20;
    console.log(`image node_modules: ${megabytes.toFixed(1)} MiB`);
    expect(megabytes).toBeLessThan(150);
  });

  it('serves /predict with the image environment as an unprivileged user', async () => {
    const env = roots.get('runtime')?.env ?? {};
    const cacheDir = path.join(temp.dir, 'cache');
    mkdirSync(cacheDir);
    chmodSync(cacheDir, 0o777);
    const cmd = (JSON.parse(steps(runtime, 'CMD').at(-1) ?? '[]') as string[]).slice(1);
    const server = await startServerProcess('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...cmd], {
      cwd: app(),
      env: { PATH: process.env.PATH ?? '', ...env, PORT: '0', MODEL_CACHE_DIR: cacheDir },
    });
    try {
      const res = await fetch(`${server.url}/predict`, { method: 'POST', body: JSON.stringify({ model: 'scorer', version: '1', inputs: { x: [[1, 2, 3, 4]] } }) });
      expect(await res.json()).toEqual({ model: 'scorer', version: '1', outputs: { y: [[15.1]] } });
    } finally {
      server.child.kill('SIGTERM');
    }
  });
});
