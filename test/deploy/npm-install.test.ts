// `npm ci` on a fresh tree, with npm 10 (bundled with Node 20 and 22; it ignores package.json
// `allowScripts`) and with the npm on PATH. onnxruntime-node's postinstall must not download its
// optional CUDA libraries: where only the npm registry is reachable that download fails and rolls
// the install back, and elsewhere it fetches hundreds of MB the CPU provider never uses. Packages
// come from the npm cache where present (--prefer-offline); each install takes about 10-20 s.
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, REPO_ROOT } from '../support/harness.js';

const temp = makeTempDir('mg-npm-ci-');
afterAll(() => temp.cleanup());

/** The environment without the npm_* variables of an outer `npm test`, which would leak its config. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
}

function freshTree(name: string): string {
  const dir = path.join(temp.dir, name);
  // What `npm ci` reads, plus what the `prepare` script (the build) needs.
  for (const f of ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json', 'src']) {
    cpSync(path.join(REPO_ROOT, f), path.join(dir, f), { recursive: true });
  }
  return dir;
}

describe.each([
  ['npm 10', ['npx', '-y', 'npm@10']],
  ['the npm on PATH', ['npm']],
])('npm ci with %s', (_label, command) => {
  it('installs without downloading onnxruntime-node extras, and onnxruntime runs', () => {
    const dir = freshTree(command.join('-').replace(/[^a-z0-9-]/gi, '_'));
    const [bin = 'npm', ...pre] = command;
    const res = spawnSync(bin, [...pre, 'ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, env: cleanEnv(), encoding: 'utf8', timeout: 150_000 });
    expect(res.status, `${res.stdout}\n${res.stderr}`).toBe(0);
    const ortBin = path.join(dir, 'node_modules/onnxruntime-node/bin/napi-v6', `${process.platform}`, process.arch);
    const files = readdirSync(ortBin);
    expect(files).toContain('onnxruntime_binding.node');
    expect(files.filter((f) => /cuda|tensorrt|cudnn|cublas/i.test(f))).toEqual([]);
    const run = spawnSync('node', ['--input-type=module', '-e', "const ort = await import('onnxruntime-node'); console.log(ort.listSupportedBackends().map((b) => b.name).join(','))"], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('cpu');
  }, 180_000);
});
