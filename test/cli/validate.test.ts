import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/run.js';
import { identityModel } from '../../tools/onnx-builder.js';
import { makeTempDir, REPO_ROOT, writeFile } from '../support/harness.js';
import { doubler, garbage, tripler } from '../support/models.js';

const temp = makeTempDir();
afterAll(() => temp.cleanup());
const env = { MODEL_CACHE_DIR: path.join(temp.dir, 'cache') };

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await run(args, env, (s) => (out += s));
  return { code, out };
}

describe('model-gateway validate', () => {
  it('accepts the default registry, with and without --check-models', async () => {
    const plain = await cli('validate', path.join(REPO_ROOT, 'config/models.yaml'));
    expect(plain.code).toBe(0);
    expect(plain.out).toMatch(/valid \(revision [0-9a-f]{12}, 2 models, 3 versions\)/);
    expect((await cli('validate', path.join(REPO_ROOT, 'config/models.yaml'), '--check-models')).code).toBe(0);
  });

  it('exits 1 listing every registry problem', async () => {
    const file = writeFile(temp.dir, 'bad.yaml', 'models:\n  m:\n    versions:\n      "1": { uri: a.onnx, weight: -1 }\n    aliases: { s: "4" }\n');
    const { code, out } = await cli('validate', file);
    expect(code).toBe(1);
    // The schema problem and the cross-field one (an alias to a missing version), both listed.
    expect(out.trim().split('\n').slice(1).sort()).toEqual(
      ['  - models.m.versions.1.weight (line 4): must be >= 0', '  - models.m.aliases.s (line 5): points at unknown version "4"'].sort(),
    );
    expect(out).toContain('2 problem(s)');
  });

  it('with --check-models, loads every version and compares signatures across versions', async () => {
    writeFile(temp.dir, 'm/1.onnx', doubler);
    writeFile(temp.dir, 'm/2.onnx', tripler);
    writeFile(temp.dir, 'm/3.onnx', identityModel('int64', ['n', 1]));
    writeFile(temp.dir, 'm/4.onnx', garbage);
    const file = writeFile(
      temp.dir,
      'check.yaml',
      'models:\n  m:\n    versions:\n      "1": { uri: m/1.onnx, weight: 1 }\n      "2": { uri: m/2.onnx, weight: 1 }\n      "3": { uri: m/3.onnx, weight: 0 }\n      "4": { uri: m/4.onnx, weight: 0 }\n',
    );
    expect((await cli('validate', file)).code).toBe(0);
    const { code, out } = await cli('validate', file, '--check-models');
    expect(code).toBe(1);
    expect(out).toContain('models.m.versions.3: input "x" of version "1" is missing');
    expect(out).toContain('models.m.versions.3: input "in" is not in version "1"');
    expect(out).toContain('models.m.versions.4: cannot load m/4.onnx');
    expect(out).not.toContain('versions.2');
  });

  it('prints usage and exits 2 for unknown commands or missing arguments', async () => {
    expect((await cli()).code).toBe(2);
    expect((await cli('frobnicate')).out).toContain('unknown command');
    expect((await cli('validate')).code).toBe(2);
    expect((await cli('--help')).code).toBe(0);
  });

  it('runs as the installed bin (dist/cli/main.js)', () => {
    const res = spawnSync('node', ['dist/cli/main.js', 'validate', 'config/models.yaml'], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout).toContain('config/models.yaml: valid');
  });
});
