import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setWeights, updateRegistry } from '../../src/registry/editor.js';
import { RegistryValidationError } from '../../src/registry/parse.js';
import { createGcsClient } from '../../src/storage/gcs.js';
import { createBlobStore, WriteConflictError, type BlobStore } from '../../src/storage/store.js';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';
import { makeTempDir } from '../support/harness.js';

const YAML = `# Production registry: edit with care.
cache:
  maxModels: 4
models:
  iris:
    versions:
      # the current model
      "1": { uri: gs://bkt/iris/1.onnx, weight: 90 } # stable
      "2": { uri: gs://bkt/iris/2.onnx, weight: 10 }
      "3":
        uri: gs://bkt/iris/3.onnx
    fallback: "1"
`;

let gcs: FakeGcs;
const temp = makeTempDir();
beforeAll(async () => {
  gcs = await startFakeGcs();
});
afterAll(async () => {
  await gcs.close();
  temp.cleanup();
});

function store(): BlobStore {
  return createBlobStore({
    cacheDir: path.join(temp.dir, 'cache'),
    gcsClient: () => createGcsClient({ emulatorHost: gcs.host, retryOptions: { autoRetry: false, maxRetries: 0 } }),
  });
}

describe('setWeights', () => {
  it('changes only the weights, keeping comments, flow maps and key order', () => {
    const out = setWeights(YAML, 'iris', { '1': 0, '2': 100, '3': 5 });
    expect(out).toBe(
      YAML.replace('weight: 90 } # stable', 'weight: 0 } # stable')
        .replace('weight: 10 }', 'weight: 100 }')
        .replace('uri: gs://bkt/iris/3.onnx\n', 'uri: gs://bkt/iris/3.onnx\n        weight: 5\n'),
    );
  });

  it('edits a JSON registry as JSON', () => {
    const json = JSON.stringify({ models: { m: { versions: { a: { uri: 'gs://b/a', weight: 1 }, b: { uri: 'gs://b/b' } } } } });
    const out = JSON.parse(setWeights(json, 'm', { a: 0, b: 3 })) as { models: { m: { versions: Record<string, { weight: number }> } } };
    expect(out.models.m.versions.a?.weight).toBe(0);
    expect(out.models.m.versions.b?.weight).toBe(3);
  });

  it('refuses an unknown version instead of inventing one', () => {
    expect(() => setWeights(YAML, 'iris', { '9': 1 })).toThrow(/no version "9"/);
    expect(() => setWeights(YAML, 'nope', { '1': 1 })).toThrow(/no version "1"/);
  });
});

describe('updateRegistry', () => {
  it('replaces a local file atomically and refuses an edit that would not validate', async () => {
    const file = path.join(temp.dir, 'local.yaml');
    writeFileSync(file, YAML);
    const loc = { kind: 'file' as const, path: file };
    const edit = await updateRegistry(store(), loc, (t) => setWeights(t, 'iris', { '1': 50, '2': 50 }));
    expect(edit.written).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain('# Production registry: edit with care.');
    expect(edit.after.models.get('iris')?.versions.map((v) => v.weight)).toEqual([50, 50, 0]);

    await expect(updateRegistry(store(), loc, (t) => setWeights(t, 'iris', { '1': 0, '2': 0 }))).rejects.toBeInstanceOf(RegistryValidationError);
    expect(readFileSync(file, 'utf8')).toBe(edit.afterText);
  });

  it('a dry run validates and writes nothing', async () => {
    const gen = gcs.put('bkt', 'dry/models.yaml', YAML);
    const loc = { kind: 'gcs' as const, bucket: 'bkt', object: 'dry/models.yaml' };
    const edit = await updateRegistry(store(), loc, (t) => setWeights(t, 'iris', { '2': 100 }), { dryRun: true });
    expect(edit.written).toBe(false);
    expect(edit.after.models.get('iris')?.versions[1]?.weight).toBe(100);
    expect(gcs.read('bkt', 'dry/models.yaml')?.generation).toBe(gen);
  });

  it('writes a gs:// object conditionally on the generation read; a concurrent writer loses with a conflict', async () => {
    const gen = gcs.put('bkt', 'reg/models.yaml', YAML);
    const loc = { kind: 'gcs' as const, bucket: 'bkt', object: 'reg/models.yaml' };
    const s = store();
    // Both writers read generation `gen`; the second to write must be refused, not overwrite.
    const version = await s.probe(loc);
    expect(version).toBe(String(gen));
    const { text } = await s.readText(loc);
    const first = await s.writeText(loc, setWeights(text, 'iris', { '2': 100 }), version);
    expect(Number(first)).toBeGreaterThan(gen);
    await expect(s.writeText(loc, setWeights(text, 'iris', { '1': 100 }), version)).rejects.toBeInstanceOf(WriteConflictError);
    const stored = gcs.read('bkt', 'reg/models.yaml');
    expect(stored?.generation).toBe(Number(first));
    expect(stored?.text).toContain('"2": { uri: gs://bkt/iris/2.onnx, weight: 100 }');
    expect(stored?.text).toContain('"1": { uri: gs://bkt/iris/1.onnx, weight: 90 } # stable');
  });

  it('with retries, re-reads after a conflict and applies the edit to the newer text', async () => {
    gcs.put('bkt', 'race/models.yaml', YAML);
    const loc = { kind: 'gcs' as const, bucket: 'bkt', object: 'race/models.yaml' };
    let calls = 0;
    const edit = await updateRegistry(
      store(),
      loc,
      (t) => {
        calls++;
        // Another replica writes between our read and our write, once.
        if (calls === 1) gcs.put('bkt', 'race/models.yaml', setWeights(t, 'iris', { '3': 7 }));
        return setWeights(t, 'iris', { '2': 0 });
      },
      { retriesOnConflict: 3 },
    );
    expect(calls).toBe(2);
    expect(edit.written).toBe(true);
    const weights = edit.after.models.get('iris')?.versions.map((v) => v.weight);
    expect(weights).toEqual([90, 0, 7]);
    expect(gcs.read('bkt', 'race/models.yaml')?.text).toBe(edit.afterText);
  });
});
