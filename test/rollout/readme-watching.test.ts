// Runs the README's "Rolling out and rolling back" → "Watching a rollout" commands (`status` and
// the admin API through curl) against a real gateway process serving a copy of config/, and
// compares what they print with what the README shows (`…` stands for anything on that line).
import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, REPO_ROOT } from '../support/harness.js';
import { runToExit, startServerProcess, type ServerProcess } from '../support/process.js';
import { readmeSteps, subsection } from '../support/readme.js';

const TOKEN = 'readme-admin-token';
const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const STEPS = readmeSteps(subsection(README, '## Rolling out and rolling back', '### Watching a rollout'), /^(npx model-gateway |curl )/);
const temp = makeTempDir();
let server: ServerProcess | undefined;

beforeAll(async () => {
  cpSync(path.join(REPO_ROOT, 'config'), path.join(temp.dir, 'config'), { recursive: true });
  server = await startServerProcess('node', [path.join(REPO_ROOT, 'dist', 'server.js')], {
    cwd: temp.dir,
    env: { ...process.env, PORT: '0', ADMIN_TOKEN: TOKEN, MODEL_REGISTRY: 'config/models.yaml', MODEL_CACHE_DIR: path.join(temp.dir, 'cache') },
  });
  // status shows what is loaded: wait for the warm-up.
  const url = server.url;
  for (let i = 0; i < 100 && (await fetch(`${url}/v2/health/ready`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
});
afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
  temp.cleanup();
});

function lineMatches(actual: string, expected: string): boolean {
  const pattern = expected.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${pattern}$`).test(actual);
}

describe('README: watching a rollout', () => {
  it('shows status and a reload through the admin API', () => {
    expect(STEPS.map((s) => s.command.split(' ').slice(0, 2).join(' '))).toEqual(['npx model-gateway', 'curl -s']);
  });

  it('every command prints what the README shows', async () => {
    const port = new URL(server?.url ?? '').port;
    for (const step of STEPS) {
      const command = step.command
        .replace(/^npx model-gateway /, `node ${path.join(REPO_ROOT, 'dist', 'cli', 'main.js')} `)
        .replaceAll('localhost:8080', `localhost:${port}`);
      const { code, output } = await runToExit('bash', ['-c', command], { cwd: temp.dir, env: { ...process.env, PORT: port, ADMIN_TOKEN: TOKEN } });
      expect(code, `${step.command}\n${output}`).toBe(0);
      const actual = output.trimEnd().split('\n');
      const expected = step.expected.replaceAll('localhost:8080', `localhost:${port}`).split('\n');
      expect(actual.length, `${step.command}\n${output}`).toBe(expected.length);
      expected.forEach((line, i) => expect(lineMatches(actual[i] ?? '', line), `${step.command}: line ${i + 1}\n  got:  ${actual[i]}\n  want: ${line}`).toBe(true));
    }
  });
});
