// npm run schema:write — regenerates config/models.schema.json from the zod schema.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { registryJsonSchema } from '../src/registry/json-schema.js';

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'config', 'models.schema.json');
writeFileSync(file, `${JSON.stringify(registryJsonSchema(), null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), file)}`);
