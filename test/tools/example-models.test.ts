import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exampleModels } from '../../tools/example-models.js';
import { REPO_ROOT } from '../support/harness.js';

describe('config/models/', () => {
  it('holds exactly what npm run models:examples builds', () => {
    for (const [rel, bytes] of Object.entries(exampleModels())) {
      expect(Buffer.from(readFileSync(path.join(REPO_ROOT, 'config/models', rel))).equals(Buffer.from(bytes)), rel).toBe(true);
    }
  });
});
