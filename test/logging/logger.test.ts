// The process logger writes stdout asynchronously (src/logging/logger.ts); no line may be lost
// when the process exits right after logging, as it does on a fatal start-up error.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/harness.js';

describe('createLogger on stdout', () => {
  it('delivers every line logged just before process.exit, through a pipe', () => {
    const logger = path.join(REPO_ROOT, 'dist', 'logging', 'logger.js');
    const script = `
      const { createLogger } = await import(${JSON.stringify(logger)});
      const log = createLogger({ logLevel: 'info' });
      for (let i = 0; i < 5000; i++) log.info({ i, pad: 'x'.repeat(200) }, 'line');
      log.warn({ reason: 'test' }, 'last words'); // not fatal: pino flushes fatal lines itself
      process.exit(3);
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(run.status).toBe(3);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { i?: number; msg: string; severity: string });
    expect(lines).toHaveLength(5001);
    expect(lines.slice(0, 5000).every((l, i) => l.i === i)).toBe(true);
    expect(lines.at(-1)).toMatchObject({ msg: 'last words', severity: 'WARNING' });
  });
});
