import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { registryJsonSchema } from '../../src/registry/json-schema.js';
import { REPO_ROOT } from '../support/harness.js';

const committed = JSON.parse(readFileSync(path.join(REPO_ROOT, 'config/models.schema.json'), 'utf8')) as Record<string, unknown>;

describe('config/models.schema.json', () => {
  it('is the schema the gateway validates with (run npm run schema:write after changing it)', () => {
    expect(committed).toEqual(registryJsonSchema());
  });

  it('accepts the default registry and the contract example, and refuses what the gateway refuses', () => {
    const validate = new Ajv2020({ strict: false }).compile(committed);
    const defaults = parseYaml(readFileSync(path.join(REPO_ROOT, 'config/models.yaml'), 'utf8'));
    expect(validate(defaults), JSON.stringify(validate.errors)).toBe(true);
    const example = {
      cache: { maxModels: 8, maxBytes: '1GiB' },
      models: {
        iris: {
          versions: { '1': { uri: 'gs://ml-models/iris/1/model.onnx', weight: 90 }, '3': { uri: './m.onnx', weight: 0, shadow: 0.05 } },
          aliases: { stable: '1' },
          sticky: 'x-user-id',
          fallback: '1',
          guard: { maxErrorRate: 0.05, maxP99Ms: 250, minRequests: 100, windowSeconds: 60 },
        },
      },
    };
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ models: { iris: { versions: { '1': { uri: 'a', weight: -1 } } } } })).toBe(false);
    expect(validate({ models: { Iris: { versions: { '1': { uri: 'a', weight: 1 } } } } })).toBe(false);
    expect(validate({ models: { iris: { versions: { '1': { uri: 'a', wieght: 1 } } } } })).toBe(false);
  });
});
