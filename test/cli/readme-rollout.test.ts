// Runs every `npx model-gateway …` command of the README's "Rolling out and rolling back" →
// "From the command line" subsection, in order, on a temp copy of config/, and compares what it
// prints with the output the README shows under it.
import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, REPO_ROOT } from '../support/harness.js';
import { runToExit } from '../support/process.js';

interface Step {
  readonly command: string;
  readonly expected: string;
}

/** The lines of one subsection: from its heading to the next heading of level 3 or higher. */
function subsection(markdown: string, section: string, sub: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(section);
  const subStart = lines.indexOf(sub, start);
  if (start < 0 || subStart < 0) throw new Error(`README has no "${section}" with "${sub}"`);
  const body: string[] = [];
  let fenced = false;
  for (const line of lines.slice(subStart + 1)) {
    if (line.startsWith('```')) fenced = !fenced;
    if (!fenced && /^#{1,3} /.test(line)) break;
    body.push(line);
  }
  return body;
}

/** `$ npx model-gateway …` lines of the sh blocks, each with the lines shown under it. */
function steps(lines: readonly string[]): Step[] {
  const out: Array<{ command: string; expected: string[] }> = [];
  let inSh = false;
  for (const line of lines) {
    if (line.startsWith('```')) {
      inSh = !inSh && line.trim() === '```sh';
      continue;
    }
    if (!inSh) continue;
    if (line.startsWith('$ ')) {
      if (!line.startsWith('$ npx model-gateway ')) throw new Error(`not a model-gateway command: ${line}`);
      out.push({ command: line.slice(2), expected: [] });
    } else {
      const last = out.at(-1);
      if (!last) throw new Error(`output before any command: ${line}`);
      last.expected.push(line);
    }
  }
  return out.map((s) => ({ command: s.command, expected: s.expected.join('\n') }));
}

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
const STEPS = steps(subsection(README, '## Rolling out and rolling back', '### From the command line'));
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
