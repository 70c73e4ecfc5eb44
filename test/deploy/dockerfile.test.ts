// No Docker engine runs on CI machines, so the image cannot be built here. Instead: the
// Dockerfile's structure is checked, and its runtime stage's install step is executed verbatim
// in a temp folder laid out like the image, which is then inspected and served from as an
// unprivileged user.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, REPO_ROOT } from '../support/harness.js';

interface Instruction {
  readonly op: string;
  readonly args: string;
}

function stages(dockerfile: string): Instruction[][] {
  const logical = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const out: Instruction[][] = [];
  for (const line of logical) {
    const [op = '', ...rest] = line.split(/\s+/);
    const ins = { op: op.toUpperCase(), args: rest.join(' ') };
    if (ins.op === 'FROM') out.push([ins]);
    else out.at(-1)?.push(ins);
  }
  return out;
}

const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
const all = stages(dockerfile);
const runtime = all.at(-1) ?? [];
const runtimeOps = (op: string) => runtime.filter((i) => i.op === op);

describe('Dockerfile', () => {
  it('builds in one stage and runs from a slim Node 22 stage without dev dependencies or sources', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(runtime[0]?.args).toMatch(/^node:22-[a-z]+-slim AS runtime$/);
    const install = runtimeOps('RUN').find((r) => r.args.includes('npm ci'));
    expect(install?.args).toContain('--omit=dev');
    expect(install?.args).toContain('--ignore-scripts');
    const copies = runtimeOps('COPY').map((c) => c.args);
    expect(copies).toContain('--from=build /app/dist ./dist');
    expect(copies.some((c) => /node_modules|src|test/.test(c))).toBe(false);
  });

  it('runs as the non-root node user, node as PID 1 with the exec form', () => {
    const users = runtimeOps('USER').map((u) => u.args);
    expect(users.at(-1)).toBe('node');
    const cmd = runtimeOps('CMD').at(-1)?.args;
    expect(JSON.parse(cmd ?? 'null')).toEqual(['node', 'dist/server.js']);
    expect(runtimeOps('ENV').map((e) => e.args).join(' ')).toContain('PORT=8080');
  });

  it('.dockerignore keeps node_modules, dist and tests out of the build context', () => {
    const ignored = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', 'dist', 'test', '.git']) expect(ignored).toContain(entry);
  });
});

describe('the runtime stage, executed', () => {
  const temp = makeTempDir('mg-image-');
  const app = path.join(temp.dir, 'app');
  beforeAll(() => {
    cpSync(REPO_ROOT, app, {
      recursive: true,
      filter: (src) => {
        const rel = path.relative(REPO_ROOT, src);
        return rel === '' || ['package.json', 'package-lock.json', '.npmrc'].includes(rel);
      },
    });
    const install = runtimeOps('RUN').find((r) => r.args.includes('npm ci'));
    execFileSync('sh', ['-ec', install?.args ?? 'false'], { cwd: app, stdio: 'pipe', timeout: 240_000 });
    cpSync(path.join(REPO_ROOT, 'dist'), path.join(app, 'dist'), { recursive: true });
    cpSync(path.join(REPO_ROOT, 'config'), path.join(app, 'config'), { recursive: true });
    // Readable by an unprivileged user, like the image's files are by `node`.
    chmodSync(temp.dir, 0o755);
  }, 300_000);
  afterAll(() => temp.cleanup());

  function files(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
      d.isDirectory() ? files(path.join(dir, d.name)) : [path.join(dir, d.name)],
    );
  }

  it('installs no dev dependencies, and no GPU or other-platform onnxruntime libraries', () => {
    const modules = path.join(app, 'node_modules');
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

  it('serves /predict from that tree as an unprivileged user', async () => {
    const cacheDir = path.join(temp.dir, 'cache');
    execFileSync('mkdir', ['-p', cacheDir]);
    chmodSync(cacheDir, 0o777);
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, 'dist/server.js'], {
      cwd: app,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', PORT: '0', MODEL_CACHE_DIR: cacheDir, MODEL_REGISTRY: 'config/models.yaml' },
    });
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          output += c.toString();
          const m = /"port":(\d+),.*"msg":"listening"/.exec(output);
          if (m) resolve(`http://127.0.0.1:${m[1]}`);
        });
        child.stderr.on('data', (c: Buffer) => (output += c.toString()));
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${output}`)));
      });
      const res = await fetch(`${url}/predict`, { method: 'POST', body: JSON.stringify({ model: 'scorer', version: '1', inputs: { x: [[1, 2, 3, 4]] } }) });
      expect(await res.json()).toEqual({ model: 'scorer', version: '1', outputs: { y: [[15.1]] } });
    } finally {
      child.kill('SIGTERM');
    }
  });
});
