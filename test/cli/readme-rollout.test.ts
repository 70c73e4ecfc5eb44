// Runs every `npx model-gateway …` command of the README's "Rolling out and rolling back" →
// "From the command line" subsection, in order, on a temp copy of config/, and compares what it
// prints with the output the README shows under it.
import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, REPO_ROOT } from '../support/harness.js';
import { runToExit } from '../support/process.js';
import { readmeSteps, subsection } from '../support/readme.js';

/**
 * Revision ids are content hashes of config/models.yaml, so they move whenever that file's
 * bytes do (a comment edited). Each distinct id becomes <rev N> by first appearance, which keeps
 * what matters: which revisions are the same one.
 */
function revisionNamer(): (text: string) => string {
  const names = new Map<string, string>();
  return (text) => text.replace(/\b[0-9a-f]{12}\b/g, (id) => names.get(id) ?? (names.set(id, `<rev ${names.size + 1}>`), `<rev ${names.size}>`));
}

const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const STEPS = readmeSteps(subsection(README, '## Rolling out and rolling back', '### From the command line'), /^npx model-gateway /);
const temp = makeTempDir();
afterAll(() => temp.cleanup());

describe('README: rolling out and rolling back from the command line', () => {
  it('shows a whole canary: validate, a dry run, rollouts, a refused edit, a rollback', () => {
    const commands = STEPS.map((s) => s.command);
    expect(commands[0]).toMatch(/^npx model-gateway validate /);
    expect(commands.filter((c) => /^npx model-gateway rollout .*--dry-run/.test(c))).toHaveLength(1);
    expect(commands.filter((c) => /^npx model-gateway rollout /.test(c)).length).toBeGreaterThanOrEqual(3);
    expect(commands.some((c) => c.startsWith('npx model-gateway rollback '))).toBe(true);
    expect(STEPS.some((s) => s.expected.startsWith('refused:'))).toBe(true);
  });

  it('every command prints what the README shows, with the exit code it implies, on a copy of config/', async () => {
    cpSync(path.join(REPO_ROOT, 'config'), path.join(temp.dir, 'config'), { recursive: true });
    const registry = path.join(temp.dir, 'config', 'models.yaml');
    const original = readFileSync(registry, 'utf8');
    const shown = revisionNamer();
    const got = revisionNamer();
    for (const step of STEPS) {
      const args = step.command.split(/\s+/).slice(2);
      if (args.some((a) => /["'$\\]/.test(a))) throw new Error(`quote or expand by hand: ${step.command}`);
      const { code, output } = await runToExit('node', [path.join(REPO_ROOT, 'dist/cli/main.js'), ...args], {
        cwd: temp.dir,
        env: { ...process.env, MODEL_CACHE_DIR: path.join(temp.dir, 'cache') },
      });
      expect(got(output.trimEnd()), step.command).toBe(shown(step.expected));
      expect(code, step.command).toBe(/^(refused|conflict|failed)/.test(step.expected) ? 1 : 0);
    }
    // The README says the walk ends where it began.
    expect(readFileSync(registry, 'utf8')).toBe(original);
    expect(readFileSync(path.join(REPO_ROOT, 'config', 'models.yaml'), 'utf8')).toBe(original);
  });
});
