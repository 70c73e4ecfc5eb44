import path from 'node:path';
import { LRUCache } from 'lru-cache';
import { describe, expect, it } from 'vitest';
import { parseRegistry, RegistryValidationError, type Problem } from '../../src/registry/parse.js';
import { primaryVersion, resolveVersionRef } from '../../src/registry/revision.js';
import { parseByteSize } from '../../src/registry/schema.js';

const dir = '/srv/registry';
const source = { kind: 'file' as const, path: `${dir}/models.yaml` };
const parse = (text: string, modelRoots: string[] = []) => parseRegistry(text, { source, modelRoots, cwd: '/srv/app' });

function problemsOf(text: string, modelRoots: string[] = []): Problem[] {
  try {
    parse(text, modelRoots);
  } catch (err) {
    expect(err).toBeInstanceOf(RegistryValidationError);
    return [...(err as RegistryValidationError).problems];
  }
  throw new Error('expected the registry to be refused');
}

const VALID = `
cache: { maxModels: 4, maxBytes: 512MiB }
models:
  iris:
    versions:
      "1": { uri: gs://ml-models/iris/1/model.onnx, weight: 90 }
      "2": { uri: ./iris/2/model.onnx, weight: 10 }
      "3": { uri: file:///srv/registry/iris/3.onnx, weight: 0, shadow: 0.05 }
    aliases: { stable: "1", canary: 2 }
    sticky: X-User-Id
    fallback: stable
    guard: { maxErrorRate: 0.05, maxP99Ms: 250 }
`;

describe('parseRegistry', () => {
  it('parses a valid registry into a frozen revision with resolved locations', () => {
    const rev = parse(VALID);
    expect(rev.cache).toEqual({ maxModels: 4, maxBytes: 512 * 2 ** 20 });
    const iris = rev.models.get('iris');
    expect(iris?.versions.map((v) => [v.name, v.weight, v.shadow])).toEqual([
      ['1', 90, 0],
      ['2', 10, 0],
      ['3', 0, 0.05],
    ]);
    expect(iris?.versions[0]?.location).toEqual({ kind: 'gcs', bucket: 'ml-models', object: 'iris/1/model.onnx' });
    expect(iris?.versions[1]?.location).toEqual({ kind: 'file', path: path.join(dir, 'iris/2/model.onnx'), within: ['/srv/app', dir] });
    expect(iris?.versions[2]?.location).toMatchObject({ kind: 'file', path: '/srv/registry/iris/3.onnx' });
    expect(iris?.sticky).toBe('x-user-id');
    expect(iris?.fallback).toBe('1');
    expect(iris?.guard).toEqual({ maxErrorRate: 0.05, maxP99Ms: 250, minRequests: 100, windowSeconds: 60 });
    expect(iris && resolveVersionRef(iris, 'canary')?.name).toBe('2');
    expect(iris && primaryVersion(iris).name).toBe('1');
    expect(Object.isFrozen(rev)).toBe(true);
    expect(Object.isFrozen(iris?.versions)).toBe(true);
  });

  it('gives identical files identical revision ids, and different files different ids', () => {
    expect(parse(VALID).id).toBe(parse(VALID).id);
    expect(parse(VALID).id).not.toBe(parse(VALID.replace('weight: 90', 'weight: 80')).id);
  });

  it('reads JSON as well as YAML', () => {
    const rev = parse(JSON.stringify({ models: { m: { versions: { a: { uri: 'm.onnx', weight: 1 } } } } }));
    expect(rev.cache).toEqual({ maxModels: 8, maxBytes: 2 ** 30 });
    expect(rev.models.get('m')?.versions[0]?.name).toBe('a');
  });

  it('resolves relative paths in a gs:// registry against the registry object folder', () => {
    const rev = parseRegistry('models: { m: { versions: { "1": { uri: m/1.onnx, weight: 1 } } } }', {
      source: { kind: 'gcs', bucket: 'b', object: 'registries/prod.yaml' },
    });
    expect(rev.models.get('m')?.versions[0]?.location).toEqual({ kind: 'gcs', bucket: 'b', object: 'registries/m/1.onnx' });
  });

  it('reports every problem at once, each with its path and line', () => {
    const problems = problemsOf(`models:
  iris:
    versions:
      "1": { uri: gs://bkt/iris/1.onnx, weight: -1 }
      "2": { uri: s3://b/iris/2.onnx, weight: 0 }
    aliases: { stable: "9" }
    fallback: "7"
  Bad_Name:
    versions:
      "1": { uri: a.onnx, wieght: 1 }
`);
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p]));
    expect(byPath['models.iris.versions.1.weight']).toMatchObject({ message: 'must be >= 0', line: 4 });
    expect(byPath['models.Bad_Name.versions.1.wieght']).toMatchObject({ message: 'unknown key', line: 10 });
    // Schema problems do not hide the cross-field ones: both kinds come in one report.
    expect(problems.map((p) => `${p.path}@${p.line}`).sort()).toEqual(
      [
        'models.iris.versions.1.weight@4',
        'models.iris.versions.2.uri@5',
        'models.iris.aliases.stable@6',
        'models.iris.fallback@7',
        'models.Bad_Name@8',
        'models.Bad_Name.versions.1.wieght@10',
      ].sort(),
    );
    expect(byPath['models.iris.aliases.stable']?.message).toBe('points at unknown version "9"');
    expect(byPath['models.iris.fallback']?.message).toBe('points at unknown version "7"');
    expect(byPath['models.iris.versions.2.uri']?.message).toContain('unsupported scheme');

    const second = problemsOf(`models:
  iris:
    versions:
      "1": { uri: gs://bkt/iris/1.onnx, weight: 0 }
      "2": { uri: s3://b/iris/2.onnx, weight: 0 }
    aliases: { stable: "9", "1": "2" }
    fallback: "7"
  Bad_Name:
    versions:
      "1": { uri: a.onnx, weight: 1 }
`);
    expect(second.map((p) => `${p.path}@${p.line}`).sort()).toEqual(
      [
        'models.Bad_Name@8',
        'models.iris.aliases.1@6',
        'models.iris.aliases.stable@6',
        'models.iris.fallback@7',
        'models.iris.versions.2.uri@5',
        'models.iris.versions@3',
      ].sort(),
    );
    const messages = second.map((p) => p.message).join('\n');
    expect(messages).toContain('at least one version needs weight > 0');
    expect(messages).toContain('unknown version "9"');
    expect(messages).toContain('unsupported scheme');
    expect(messages).toContain('shadows a version');
  });

  it('still checks the rest of a model whose aliases, fallback or versions map is malformed', () => {
    const problems = problemsOf(`models:
  m:
    versions:
      "1": { uri: a.onnx, weight: 1 }
    aliases: { stable: [1], canary: "5" }
    fallback: "6"
  n:
    versions: [a.onnx]
    fallback: "1"
  o:
    versions:
      "1": { uri: a.onnx, weight: 1 }
    sticky: "not a header"
    aliases: { live: "2" }
`);
    expect(problems.map((p) => `${p.path}: ${p.message}`).sort()).toEqual(
      [
        'models.m.aliases.stable: must be a version name or alias',
        'models.m.aliases.canary: points at unknown version "5"',
        'models.m.fallback: points at unknown version "6"',
        'models.n.versions: must be a map of version name to {uri, weight}',
        'models.o.sticky: must be an HTTP header name',
        'models.o.aliases.live: points at unknown version "2"',
      ].sort(),
    );
  });

  it('names the problems in the error message, one per line', () => {
    try {
      parse('models: { m: { versions: { "1": { uri: a.onnx, weight: -1 } } } }');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toContain('models.m.versions.1.weight (line 1): must be >= 0');
    }
  });

  it('refuses local model paths outside the registry folder, the working directory and MODEL_ROOTS', () => {
    const text = 'models: { m: { versions: { "1": { uri: /opt/models/m.onnx, weight: 1 } } } }';
    expect(problemsOf(text)[0]).toMatchObject({ path: 'models.m.versions.1.uri' });
    expect(problemsOf('models: { m: { versions: { "1": { uri: ../../etc/m.onnx, weight: 1 } } } }')[0]?.message).toContain('outside');
    expect(parse(text, ['/opt/models']).models.get('m')?.versions[0]?.location).toEqual({
      kind: 'file',
      path: '/opt/models/m.onnx',
      within: ['/srv/app', '/opt/models', dir],
    });
    expect(parse('models: { m: { versions: { "1": { uri: /srv/app/m.onnx, weight: 1 } } } }').models.size).toBe(1);
  });

  it('checks cache limits, names and syntax', () => {
    expect(problemsOf('cache: { maxBytes: lots }\nmodels: { m: { versions: { "1": { uri: a.onnx, weight: 1 } } } }')[0]).toMatchObject({
      path: 'cache.maxBytes',
      line: 1,
    });
    expect(problemsOf('cache: { maxModels: 0 }\nmodels: { m: { versions: { "1": { uri: a.onnx, weight: 1 } } } }')[0]?.path).toBe(
      'cache.maxModels',
    );
    expect(problemsOf('models: { m: { versions: { "-x": { uri: a.onnx, weight: 1 } } } }')[0]?.path).toBe('models.m.versions.-x');
    // Limits the model cache cannot run with are refused here, not at start-up.
    const one = 'models: { m: { versions: { "1": { uri: a.onnx, weight: 1 } } } }';
    for (const bad of ['maxBytes: 0', 'maxBytes: "0.5"', 'maxBytes: 0KiB', 'maxBytes: 99999999999999999999999', 'maxModels: 1000000000', 'maxModels: 1.5']) {
      const [p] = problemsOf(`cache: { ${bad} }\n${one}`);
      expect(p?.path, bad).toBe(`cache.${bad.split(':')[0]}`);
    }
    // The extremes that pass are ones the cache's LRU accepts.
    for (const cache of ['maxBytes: 1, maxModels: 10000', `maxBytes: ${Number.MAX_SAFE_INTEGER}, maxModels: 1`]) {
      const limits = parse(`cache: { ${cache} }\n${one}`).cache;
      expect(() => new LRUCache<string, object>({ max: limits.maxModels, maxSize: limits.maxBytes, sizeCalculation: () => 1 })).not.toThrow();
    }
    expect(problemsOf('models: {}')[0]?.message).toContain('at least one model');
    expect(problemsOf('models: [unclosed')[0]?.line).toBe(1);
    expect(problemsOf('models:\n  m: 1\n  m: 2\n')[0]?.line).toBeGreaterThan(0);
    expect(problemsOf('models: { m: { versions: { "1": { uri: a.onnx, weight: 1 } }, guard: { maxErrorRate: 2 } } }')[0]?.path).toBe(
      'models.m.guard.maxErrorRate',
    );
  });
});

describe('parseByteSize', () => {
  it.each([
    ['512MiB', 512 * 2 ** 20],
    ['1GiB', 2 ** 30],
    ['1gb', 1e9],
    ['500 MB', 5e8],
    ['1.5KiB', 1536],
    ['1024', 1024],
    [2048, 2048],
  ])('reads %s', (input, bytes) => {
    expect(parseByteSize(input)).toBe(bytes);
  });
  it.each(['', 'lots', '1XB', '-1', '1 GiB extra'])('refuses %j', (input) => {
    expect(parseByteSize(input)).toBeUndefined();
  });
});
