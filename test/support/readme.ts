// The README's runnable examples: subsections, and the `$ command` lines of their sh blocks with
// the output shown under each, so tests can run them and compare.

export interface Step {
  readonly command: string;
  readonly expected: string;
}

/** The lines of one subsection: from its heading to the next heading of level 3 or higher. */
export function subsection(markdown: string, section: string, sub: string): string[] {
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

/** `$ …` command lines of the sh blocks (each must match `allowed`), with the lines shown under each. */
export function readmeSteps(lines: readonly string[], allowed: RegExp): Step[] {
  const out: Array<{ command: string; expected: string[] }> = [];
  let inSh = false;
  for (const line of lines) {
    if (line.startsWith('```')) {
      inSh = !inSh && line.trim() === '```sh';
      continue;
    }
    if (!inSh) continue;
    if (line.startsWith('$ ')) {
      if (!allowed.test(line.slice(2))) throw new Error(`not a command this test runs: ${line}`);
      out.push({ command: line.slice(2), expected: [] });
    } else {
      const last = out.at(-1);
      if (!last) throw new Error(`output before any command: ${line}`);
      last.expected.push(line);
    }
  }
  return out.map((s) => ({ command: s.command, expected: s.expected.join('\n') }));
}

