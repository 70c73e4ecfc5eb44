import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRegistry } from '../../src/registry/load.js';
import { RegistryValidationError } from '../../src/registry/parse.js';
import { createBlobStore } from '../../src/storage/store.js';
import { makeTempDir, writeFile } from '../support/harness.js';

const temp = makeTempDir();
afterAll(() => temp.cleanup());
const store = createBlobStore({ cacheDir: path.join(temp.dir, 'cache'), gcsClient: () => { throw new Error('no gcs in this test'); } });

describe('loadRegistry', () => {
  const file = writeFile(temp.dir, 'reg/models.json', JSON.stringify({ models: { m: { versions: { '1': { uri: 'm/1.onnx', weight: 1 } } } } }));

  it.each([
    ['a path', file],
    ['a file:// URL', pathToFileURL(file).href],
  ])('reads the registry from %s, resolving models against its folder', async (_name, uri) => {
    const loaded = await loadRegistry(uri, store, { cwd: '/' });
    expect(loaded.location).toEqual({ kind: 'file', path: file });
    expect(loaded.revision.models.get('m')?.versions[0]?.location).toMatchObject({ kind: 'file', path: path.join(temp.dir, 'reg/m/1.onnx') });
    expect(loaded.revision.source).toBe(pathToFileURL(file).href);
  });

  it('refuses an invalid file with its problems, and a missing one as unavailable', async () => {
    const bad = writeFile(temp.dir, 'bad.yaml', 'models: { m: { versions: { "1": { uri: a.onnx, weight: -1 } } } }');
    await expect(loadRegistry(bad, store)).rejects.toBeInstanceOf(RegistryValidationError);
    await expect(loadRegistry(path.join(temp.dir, 'none.yaml'), store)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  });
});
