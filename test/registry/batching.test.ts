// The registry's `batching` field: parsed into the frozen VersionEntry, validated with a path and
// line per problem, and described the same way in the committed JSON Schema.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parseRegistry, RegistryValidationError, type Problem } from '../../src/registry/parse.js';
import { REPO_ROOT } from '../support/harness.js';

const source = { kind: 'file' as const, path: '/srv/registry/models.yaml' };
const parse = (text: string) => parseRegistry(text, { source, cwd: '/srv/app' });

const registry = (batching: string) => `
models:
  m:
    versions:
      "1": { uri: ./m1.onnx, weight: 1, batching: ${batching} }
      "2": { uri: ./m2.onnx, weight: 1 }
`;

function problemsOf(text: string): Problem[] {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(RegistryValidationError);
    return [...(err as RegistryValidationError).problems];
  }
  throw new Error('expected the registry to be refused');
}

describe('registry batching', () => {
  it('is parsed onto the version, frozen, and absent where not asked for', () => {
    const m = parse(registry('{ maxBatchSize: 32, maxDelayMs: 2.5 }')).models.get('m');
    expect(m?.versions[0]?.batching).toEqual({ maxBatchSize: 32, maxDelayMs: 2.5 });
    expect(Object.isFrozen(m?.versions[0]?.batching)).toBe(true);
    expect(m?.versions[1]?.batching).toBeUndefined();
  });

  it.each([
    ['{ maxBatchSize: 0, maxDelayMs: 1 }', 'models.m.versions.1.batching.maxBatchSize', 'must be >= 1'],
    ['{ maxBatchSize: 2.5, maxDelayMs: 1 }', 'models.m.versions.1.batching.maxBatchSize', 'must be a whole number'],
    ['{ maxBatchSize: 4096, maxDelayMs: 1 }', 'models.m.versions.1.batching.maxBatchSize', 'must be <= 1024'],
    ['{ maxBatchSize: 8, maxDelayMs: -1 }', 'models.m.versions.1.batching.maxDelayMs', 'must be >= 0'],
    ['{ maxBatchSize: 8, maxDelayMs: 5000 }', 'models.m.versions.1.batching.maxDelayMs', 'must be <= 1000'],
    ['{ maxBatchSize: 8, maxDelayMs: "2" }', 'models.m.versions.1.batching.maxDelayMs', 'must be a number'],
    ['{ maxBatchSize: 8 }', 'models.m.versions.1.batching.maxDelayMs', 'must be a number'],
    ['{ maxBatchSize: 8, maxDelayMs: 1, preferred: 4 }', 'models.m.versions.1.batching.preferred', 'unknown key'],
  ])('refuses %s at its path and line', (batching, where, message) => {
    expect(problemsOf(registry(batching))).toEqual([{ path: where, message, line: 5 }]);
  });

  it('is in the committed JSON Schema with the same bounds', () => {
    const schema = JSON.parse(readFileSync(path.join(REPO_ROOT, 'config/models.schema.json'), 'utf8')) as Record<string, unknown>;
    const validate = new Ajv2020({ strict: false }).compile(schema);
    const withBatching = (batching: unknown) => ({ models: { m: { versions: { '1': { uri: 'a.onnx', weight: 1, batching } } } } });
    expect(validate(withBatching({ maxBatchSize: 32, maxDelayMs: 2 })), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(withBatching({ maxBatchSize: 0, maxDelayMs: 2 }))).toBe(false);
    expect(validate(withBatching({ maxBatchSize: 1.5, maxDelayMs: 2 }))).toBe(false);
    expect(validate(withBatching({ maxBatchSize: 8, maxDelayMs: 1001 }))).toBe(false);
    expect(validate(withBatching({ maxBatchSize: 8 }))).toBe(false);
  });
});
