// The process logger writes stdout asynchronously (src/logging/logger.ts); no line may be lost
// when the process exits right after logging, as it does on a fatal start-up error.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createLogger } from '../../src/logging/logger.js';
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

describe('the request line fast path', () => {
  /** The production logger writing into memory at a fixed time. */
  function capture(settings: Parameters<typeof createLogger>[0]) {
    const raw: string[] = [];
    const log = createLogger(settings, { write: (s: string) => void raw.push(s) }, () => Date.UTC(2026, 10, 26, 6, 0, 0, 123));
    return { log, raw };
  }
  const cases: Array<Record<string, unknown>> = [
    { requestId: 'r-1', method: 'POST', path: '/predict', status: 200, latencyMs: 0.53, model: 'tiny', version: '1', reason: 'weighted' },
    { requestId: 'r-2', traceId: undefined, spanId: undefined, method: 'GET', path: '/v2', status: 200, latencyMs: 12, model: undefined, fallbackFrom: undefined },
    { requestId: 'r-3', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', method: 'POST', path: '/p', status: 503, latencyMs: 1.5 },
    { requestId: 'r-4', path: '/a "quoted" \\ path/é/\u0001', status: 404, latencyMs: 0.01, model: 'x'.repeat(60) },
    { requestId: 'r-5', path: `/${'long "path" \\ é '.repeat(12)}`, status: 200, latencyMs: 3 }, // over 100 characters
    {},
  ];

  it('writes the same text as pino for the same fields, with and without a Cloud project', () => {
    for (const googleCloudProject of [undefined, 'my-project']) {
      for (const level of ['info', 'warn'] as const) {
        const viaPino = capture({ logLevel: 'info', googleCloudProject });
        const fast = capture({ logLevel: 'info', googleCloudProject });
        for (const fields of cases) {
          viaPino.log[level](fields, 'request');
          fast.log.requestLine(fields, level);
        }
        expect(fast.raw).toEqual(viaPino.raw);
        expect(fast.raw).toHaveLength(cases.length);
      }
    }
  });

  it('keeps to the logger level, also when it changes at run time', () => {
    const { log, raw } = capture({ logLevel: 'warn' });
    log.requestLine({ requestId: 'quiet' }, 'info');
    log.requestLine({ requestId: 'loud' }, 'warn');
    log.level = 'info';
    log.requestLine({ requestId: 'now heard' }, 'info');
    expect(raw.map((l) => (JSON.parse(l) as { requestId: string }).requestId)).toEqual(['loud', 'now heard']);
  });

  it('leaves a multistream destination to pino, which routes each line by its level', () => {
    const infoLines: string[] = [];
    const warnLines: string[] = [];
    const streams = pino.multistream([
      { level: 'info', stream: { write: (l: string) => void infoLines.push(l) } },
      { level: 'warn', stream: { write: (l: string) => void warnLines.push(l) } },
    ]);
    const log = createLogger({ logLevel: 'info' }, streams);
    log.requestLine({ requestId: 'i' }, 'info');
    log.requestLine({ requestId: 'w' }, 'warn');
    const ids = (lines: string[]) => lines.map((l) => (JSON.parse(l) as { requestId: string }).requestId);
    expect([ids(infoLines), ids(warnLines)]).toEqual([['i', 'w'], ['w']]);
  });

  it('is not inherited by child loggers, whose bindings it would leave out', () => {
    const { log } = capture({ logLevel: 'info' });
    const child = log.child({ component: 'x' }) as typeof log;
    expect(child.requestLine).toBeUndefined();
    expect(log.requestLine).toBeTypeOf('function');
  });
});
