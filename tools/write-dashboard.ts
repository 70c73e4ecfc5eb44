// npm run dashboard:write — renders grafana/dashboard.ts to grafana/model-gateway.json.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDashboard } from '../grafana/dashboard.js';

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'grafana', 'model-gateway.json');
writeFileSync(file, `${JSON.stringify(buildDashboard(), null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), file)}`);
