import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/run.js';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';
import { makeTempDir, REPO_ROOT, writeFile } from '../support/harness.js';
import { runToExit } from '../support/process.js';

// A registry with comments, a flow map, a block map and a version without a weight, so the
// tests see that an edit keeps everything but the weights it changes.
const REGISTRY = `# Production registry: edit with care.
models:
  iris:
    versions:
      # the model everyone gets today
      "1": { uri: gs://bkt/iris/1.onnx, weight: 90 } # stable
      "2": { uri: gs://bkt/iris/2.onnx, weight: 10 }
      "3":
        uri: gs://bkt/iris/3.onnx
    aliases: { stable: "1", canary: "2" }
    sticky: x-user-id
    fallback: "1"
  plain:
    versions:
      a: { uri: gs://bkt/plain/a.onnx, weight: 1 }
      b: { uri: gs://bkt/plain/b.onnx, weight: 0 }
`;

let gcs: FakeGcs;
const temp = makeTempDir();
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  gcs = await startFakeGcs();
  env = { MODEL_CACHE_DIR: path.join(temp.dir, 'cache'), STORAGE_EMULATOR_HOST: gcs.host };
});
afterAll(async () => {
  await gcs.close();
  temp.cleanup();
});

const revisionOf = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);
let files = 0;
const localRegistry = () => writeFile(temp.dir, `reg-${++files}/models.yaml`, REGISTRY);
let objects = 0;
function gcsRegistry(): { uri: string; object: string; generation: number } {
  const object = `team/models-${++objects}.yaml`;
  return { uri: `gs://bkt/${object}`, object, generation: gcs.put('bkt', object, REGISTRY) };
}

/** In process: fast, with stdout and stderr apart. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(args, env, (s) => (out += `${s}\n`), (s) => (err += `${s}\n`));
  return { code, out, err };
}

/** The installed bin as its own process, as a person runs it. */
function bin(...args: string[]): Promise<{ code: number | null; output: string }> {
  return runToExit('node', ['dist/cli/main.js', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
}

describe('model-gateway rollout', () => {
  it('--dry-run prints the shares before and after and changes nothing (file and gs:// object)', async () => {
    const file = localRegistry();
    const mtime = statSync(file).mtimeMs;
    const dry = await cli('rollout', file, 'iris', '2=50', '3=40', '--dry-run');
    expect(dry.code).toBe(0);
    const after = REGISTRY.replace('weight: 10 }', 'weight: 50 }').replace('uri: gs://bkt/iris/3.onnx\n', 'uri: gs://bkt/iris/3.onnx\n        weight: 40\n');
    expect(dry.out).toBe(
      [
        `iris in ${file}`,
        '  version  weight   before  after',
        '  1        90        90.0%  50.0%',
        '  2        10 → 50   10.0%  27.8%',
        '  3        0 → 40     0.0%  22.2%',
        `dry run: nothing written (revision ${revisionOf(REGISTRY)} would become ${revisionOf(after)})`,
        '',
      ].join('\n'),
    );
    expect(readFileSync(file, 'utf8')).toBe(REGISTRY);
    expect(statSync(file).mtimeMs).toBe(mtime);

    const reg = gcsRegistry();
    const remote = await bin('rollout', reg.uri, 'iris', '2=50', '3=40', '--dry-run');
    expect(remote.code, remote.output).toBe(0);
    expect(remote.output).toContain('  2        10 → 50   10.0%  27.8%');
    expect(remote.output).toContain('dry run: nothing written');
    expect(gcs.read('bkt', reg.object)).toEqual({ text: REGISTRY, generation: reg.generation });
    expect(gcs.uploads('bkt', reg.object)).toBe(0);
  });

  it('edits a local file in place, keeping comments and layout; versions not named keep their weights', async () => {
    const file = localRegistry();
    const { code, output } = await bin('rollout', file, 'iris', '1=50', '2=50');
    expect(code, output).toBe(0);
    const expected = REGISTRY.replace('weight: 90 } # stable', 'weight: 50 } # stable').replace('weight: 10 }', 'weight: 50 }');
    expect(readFileSync(file, 'utf8')).toBe(expected);
    expect(output).toContain('  1        90 → 50   90.0%  50.0%\n');
    expect(output).toContain('  3        0          0.0%   0.0%\n');
    expect(output).toContain(`wrote ${file}: revision ${revisionOf(REGISTRY)} → ${revisionOf(expected)}\n`);
  });

  it('edits a gs:// object conditionally and reports its new generation', async () => {
    const reg = gcsRegistry();
    const { code, output } = await bin('rollout', reg.uri, 'iris', '2=100', '1=0');
    expect(code, output).toBe(0);
    const stored = gcs.read('bkt', reg.object);
    const expected = REGISTRY.replace('weight: 90 } # stable', 'weight: 0 } # stable').replace('weight: 10 }', 'weight: 100 }');
    expect(stored?.text).toBe(expected);
    expect(stored?.generation).toBeGreaterThan(reg.generation);
    expect(output).toContain(`wrote ${reg.uri}: revision ${revisionOf(REGISTRY)} → ${revisionOf(expected)} (generation ${stored?.generation})`);
  });

  it('takes an alias for its version, and refuses one version named twice', async () => {
    const file = localRegistry();
    const canary = await cli('rollout', file, 'iris', 'canary=30', 'stable=70');
    expect(canary.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(REGISTRY.replace('weight: 90 } # stable', 'weight: 70 } # stable').replace('weight: 10 }', 'weight: 30 }'));
    const twice = await cli('rollout', file, 'iris', 'canary=0', '2=5');
    expect(twice.code).toBe(1);
    expect(twice.err).toContain('"canary" and "2" both name version "2"');
  });

  it('an edit that changes nothing writes nothing and says so', async () => {
    const reg = gcsRegistry();
    const same = await cli('rollout', reg.uri, 'iris', '1=90', '2=10');
    expect(same.code).toBe(0);
    expect(same.out).toContain(`no change: the weights are already so; nothing written (revision ${revisionOf(REGISTRY)})`);
    expect(gcs.uploads('bkt', reg.object)).toBe(0);
  });

  it('refuses unknown models and versions, negative and non-numeric weights, listing every problem (exit 1)', async () => {
    const file = localRegistry();
    const versions = await cli('rollout', file, 'iris', '9=10', '2=-5', '1=NaN', '3=abc');
    expect(versions.code).toBe(1);
    expect(versions.err).toBe(
      [
        'refused: nothing written',
        '  - model "iris" has no version or alias "9" (versions: 1, 2, 3)',
        '  - weight "-5" for version "2" must be a number >= 0',
        '  - weight "NaN" for version "1" must be a number >= 0',
        '  - weight "abc" for version "3" must be a number >= 0',
        '',
      ].join('\n'),
    );
    expect(versions.out).toBe('');
    const model = await bin('rollout', file, 'rose', '1=10');
    expect(model.code).toBe(1);
    expect(model.output).toContain('the registry has no model "rose" (it has iris, plain)');
    expect(readFileSync(file, 'utf8')).toBe(REGISTRY);
  });

  it('refuses an edit that would leave no version with traffic, with the validation problem (exit 1)', async () => {
    const reg = gcsRegistry();
    const { code, err } = await cli('rollout', reg.uri, 'iris', '1=0', '2=0');
    expect(code).toBe(1);
    expect(err).toContain(`refused: the edit would leave ${reg.uri} invalid; nothing written`);
    expect(err).toContain('  - models.iris.versions (line 4): at least one version needs weight > 0');
    expect(gcs.read('bkt', reg.object)?.generation).toBe(reg.generation);
  });

  it('refuses a registry that is invalid as read, and a missing one (exit 1)', async () => {
    const bad = writeFile(temp.dir, 'bad/models.yaml', 'models:\n  m:\n    versions:\n      "1": { uri: a.onnx, weight: -1 }\n');
    const invalid = await cli('rollout', bad, 'm', '1=5');
    expect(invalid.code).toBe(1);
    expect(invalid.err).toContain(`${bad} is invalid as it is; fix it first`);
    expect(invalid.err).toContain('models.m.versions.1.weight (line 4): must be >= 0');
    const missing = await cli('rollout', 'gs://bkt/nothing-here.yaml', 'm', '1=5');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^failed: gs:\/\/bkt\/nothing-here\.yaml: .*404/);
  });

  it('malformed arguments are usage errors (exit 2) and read nothing', async () => {
    const file = localRegistry();
    for (const args of [['iris', '2'], ['iris', '=5'], ['iris', '2='], ['iris'], ['iris', '2=1', '2=3'], []]) {
      const res = await cli('rollout', file, ...args);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.err).toContain('usage: model-gateway rollout <registry> <model> <version>=<weight>...');
    }
    expect((await cli('rollout', file, 'iris', '2=1', '--bogus')).code).toBe(2);
    expect(readFileSync(file, 'utf8')).toBe(REGISTRY);
  });
});

describe('model-gateway rollback', () => {
  it('sends all traffic to the stable alias in a local file, comments kept', async () => {
    const file = localRegistry();
    const { code, output } = await bin('rollback', file, 'iris');
    expect(code, output).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(REGISTRY.replace('weight: 90 } # stable', 'weight: 100 } # stable').replace('weight: 10 }', 'weight: 0 }'));
    expect(output).toBe(
      [
        `iris in ${file}: all traffic to version 1 (the "stable" alias)`,
        '  version  weight    before   after',
        '  1        90 → 100   90.0%  100.0%',
        '  2        10 → 0     10.0%    0.0%',
        '  3        0           0.0%    0.0%',
        `wrote ${file}: revision ${revisionOf(REGISTRY)} → ${revisionOf(readFileSync(file, 'utf8'))}`,
        '',
      ].join('\n'),
    );
  });

  it('--to takes a version or an alias; a gs:// object is edited', async () => {
    const reg = gcsRegistry();
    const to = await bin('rollback', reg.uri, 'iris', '--to', 'canary');
    expect(to.code, to.output).toBe(0);
    expect(to.output).toContain('all traffic to version 2 (the "canary" alias)');
    const text = gcs.read('bkt', reg.object)?.text ?? '';
    // Version 3 has no weight (0 by default): already right, so its entry is left as it was.
    expect(text).toBe(REGISTRY.replace('weight: 90 } # stable', 'weight: 0 } # stable').replace('weight: 10 }', 'weight: 100 }'));

    const three = await cli('rollback', reg.uri, 'iris', '--to', '3', '--dry-run');
    expect(three.code).toBe(0);
    expect(three.out).toBe(
      [
        `iris in ${reg.uri}: all traffic to version 3`,
        '  version  weight   before   after',
        '  1        0          0.0%    0.0%',
        '  2        100 → 0  100.0%    0.0%',
        '  3        0 → 100    0.0%  100.0%',
        `dry run: nothing written (revision ${revisionOf(text)} would become ${revisionOf(text.replace('weight: 100 }', 'weight: 0 }').replace('uri: gs://bkt/iris/3.onnx\n', 'uri: gs://bkt/iris/3.onnx\n        weight: 100\n'))})`,
        '',
      ].join('\n'),
    );
    expect(gcs.read('bkt', reg.object)?.text).toBe(text);
  });

  it('falls back to the fallback, and without stable or fallback says to pass --to (exit 1)', async () => {
    const file = writeFile(
      temp.dir,
      'fb/models.yaml',
      'models:\n  m:\n    versions:\n      a: { uri: gs://bkt/a, weight: 5 }\n      b: { uri: gs://bkt/b, weight: 5 }\n    fallback: b\n',
    );
    const fb = await cli('rollback', file, 'm');
    expect(fb.code).toBe(0);
    expect(fb.out).toContain('all traffic to version b (the fallback)');
    expect(readFileSync(file, 'utf8')).toContain('a: { uri: gs://bkt/a, weight: 0 }');

    const plain = localRegistry();
    const none = await cli('rollback', plain, 'plain');
    expect(none.code).toBe(1);
    expect(none.err).toContain('model "plain" has no "stable" alias and no fallback: pass --to <version> (versions: a, b)');
    const unknown = await cli('rollback', plain, 'iris', '--to', '7');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('model "iris" has no version or alias "7" (versions: 1, 2, 3)');
    expect(readFileSync(plain, 'utf8')).toBe(REGISTRY);
    expect((await cli('rollback', plain)).code).toBe(2);
    expect((await cli('rollback', plain, 'iris', '--to')).code).toBe(2);
  });
});

describe('concurrent gs:// edits', () => {
  it('an object changed between read and write is not overwritten: exit 1, told to retry', async () => {
    const reg = gcsRegistry();
    const theirs = REGISTRY.replace('weight: 10 }', 'weight: 30 }');
    // Another writer gets in after the CLI read the object and before its write arrives (once:
    // a CLI that re-read and retried would then overwrite their edit, and this test would see it).
    let interfered = false;
    const remove = gcs.beforeUpload('bkt', reg.object, () => {
      if (!interfered) gcs.put('bkt', reg.object, theirs);
      interfered = true;
    });
    try {
      const { code, output } = await bin('rollout', reg.uri, 'iris', '2=50');
      expect(code, output).toBe(1);
      expect(output).toContain(`conflict: ${reg.uri} changed since it was read (someone else edited it); nothing written.`);
      expect(output).toContain('re-run the command to retry');
      expect(gcs.read('bkt', reg.object)?.text).toBe(theirs);
      interfered = false;
      const inProcess = await cli('rollback', reg.uri, 'iris');
      expect(inProcess.code).toBe(1);
      expect(inProcess.err).toContain('changed since it was read');
    } finally {
      remove();
    }
    expect(gcs.uploads('bkt', reg.object)).toBe(0);
  });

  it('two processes that both read the same generation: exactly one wins, the other exits 1', async () => {
    const reg = gcsRegistry();
    const readsBefore = gcs.mediaDownloads('bkt', reg.object);
    // Hold each write until both processes have read the object, so their edits truly overlap.
    const remove = gcs.beforeUpload('bkt', reg.object, async () => {
      const deadline = Date.now() + 20_000;
      while (gcs.mediaDownloads('bkt', reg.object) < readsBefore + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    });
    try {
      const results = await Promise.all([bin('rollout', reg.uri, 'iris', '2=30'), bin('rollout', reg.uri, 'iris', '3=20')]);
      expect(results.map((r) => r.code).sort()).toEqual([0, 1]);
      const winner = results.findIndex((r) => r.code === 0);
      const loser = results[1 - winner];
      expect(loser?.output).toContain('changed since it was read');
      const expected = winner === 0 ? REGISTRY.replace('weight: 10 }', 'weight: 30 }') : REGISTRY.replace('uri: gs://bkt/iris/3.onnx\n', 'uri: gs://bkt/iris/3.onnx\n        weight: 20\n');
      expect(gcs.read('bkt', reg.object)?.text).toBe(expected);
      expect(gcs.uploads('bkt', reg.object)).toBe(1);
    } finally {
      remove();
    }
  });

  it('two processes racing freely: no edit is lost silently, whatever the timing', async () => {
    const reg = gcsRegistry();
    const edits = [
      { args: ['2=30'], apply: (t: string) => t.replace('weight: 10 }', 'weight: 30 }') },
      { args: ['1=70'], apply: (t: string) => t.replace('weight: 90 } # stable', 'weight: 70 } # stable') },
    ];
    const results = await Promise.all(edits.map((e) => bin('rollout', reg.uri, 'iris', ...e.args)));
    const winners = edits.filter((_, i) => results[i]?.code === 0);
    for (const r of results) {
      if (r.code !== 0) {
        expect(r.code, r.output).toBe(1);
        expect(r.output).toContain('changed since it was read');
      }
    }
    expect(winners.length).toBeGreaterThanOrEqual(1);
    // Both won only if they ran one after the other, the second on the first's result.
    const final = gcs.read('bkt', reg.object)?.text;
    if (winners.length === 2) expect(final).toBe(edits[1]?.apply(edits[0]?.apply(REGISTRY) ?? ''));
    else expect(final).toBe(winners[0]?.apply(REGISTRY));
    expect(gcs.uploads('bkt', reg.object)).toBe(winners.length);
  });
});

describe('--help', () => {
  it('each command prints its usage and exits 0; the top level lists every command', async () => {
    for (const command of ['rollout', 'rollback', 'status', 'validate']) {
      for (const flag of ['--help', '-h']) {
        const res = await cli(command, flag);
        expect(res.code).toBe(0);
        expect(res.out).toMatch(new RegExp(`^usage: model-gateway ${command} `));
        expect(res.out).toContain('exit codes: 0 ');
      }
    }
    const top = await bin('--help');
    expect(top.code).toBe(0);
    for (const command of ['validate <registry>', 'status [--url URL]', 'rollout <registry> <model> <version>=<weight>...', 'rollback <registry> <model> [--to <version>]']) {
      expect(top.output).toContain(command);
    }
    const rb = await bin('rollback', '--help');
    expect(rb.code).toBe(0);
    expect(rb.output).toContain('else the target of the "stable" alias, else the\nmodel\'s fallback');
  });
});
