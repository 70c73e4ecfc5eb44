// npm run models:examples — writes the example models under config/models/.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exampleModels } from './example-models.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'config', 'models');
for (const [rel, bytes] of Object.entries(exampleModels())) {
  const file = path.join(root, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  console.log(`wrote ${path.relative(process.cwd(), file)} (${bytes.length} bytes)`);
}
