// The stdout writer: lines go out in order, coalesced while a write is under way, whatever the
// kernel takes per call; a full buffer drops lines, a gone reader stops logging, exit flushes.
import { describe, expect, it } from 'vitest';
import { LineWriter, MAX_WRITE_BYTES, type LineSink } from '../../src/logging/line-writer.js';

type Done = (err: NodeJS.ErrnoException | null, written: number) => void;

/** A sink whose asynchronous writes complete only when the test says so. */
class FakeSink implements LineSink {
  readonly calls: string[] = [];
  readonly bytes: Buffer[] = [];
  readonly syncCalls: string[] = [];
  private readonly waiting: Array<{ data: Buffer; done: Done }> = [];
  /** Bytes the next completed write accepts (all when undefined). */
  accept: number | undefined;

  write(_fd: number, data: Buffer, done: Done): void {
    this.calls.push(data.toString());
    this.bytes.push(Buffer.from(data));
    this.waiting.push({ data, done });
  }

  writeSync(_fd: number, data: Buffer): number {
    this.syncCalls.push(data.toString());
    return data.length;
  }

  /** Completes the oldest write under way. */
  complete(err?: NodeJS.ErrnoException): void {
    const w = this.waiting.shift();
    if (!w) throw new Error('no write under way');
    const n = this.accept ?? w.data.length;
    this.accept = undefined;
    w.done(err ?? null, err ? 0 : n);
  }

  get pending(): number {
    return this.waiting.length;
  }
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

describe('LineWriter', () => {
  it('writes the first line at once and the lines logged meanwhile together, in order, in one write', () => {
    const sink = new FakeSink();
    const w = new LineWriter(1, 1 << 20, sink);
    w.write('a\n');
    w.write('b\n');
    w.write('c\n');
    expect(sink.calls).toEqual(['a\n']);
    sink.complete();
    expect(sink.calls).toEqual(['a\n', 'b\nc\n']);
    sink.complete();
    expect(sink.pending).toBe(0);
    w.write('d\n');
    expect(sink.calls).toEqual(['a\n', 'b\nc\n', 'd\n']);
  });

  it('writes the rest of a partial write before anything newer, as the same bytes', () => {
    const sink = new FakeSink();
    const w = new LineWriter(1, 1 << 20, sink);
    const line = 'héllo\n'; // 7 bytes: 'é' is two
    w.write(line);
    w.write('next\n');
    sink.accept = 2; // 'h' and the first byte of 'é'
    sink.complete();
    expect(sink.bytes[1]).toEqual(Buffer.from(line).subarray(2));
    sink.complete();
    expect(sink.calls.slice(2)).toEqual(['next\n']);
    expect(Buffer.concat([sink.bytes[0]!.subarray(0, 2), sink.bytes[1]!]).toString()).toBe(line);
  });

  it('retries the same bytes after EAGAIN', async () => {
    const sink = new FakeSink();
    const w = new LineWriter(1, 1 << 20, sink);
    w.write('x\n');
    sink.complete(errno('EAGAIN'));
    await new Promise((r) => setTimeout(r, 30));
    expect(sink.calls).toEqual(['x\n', 'x\n']);
  });

  it('drops lines beyond the buffer bound while the reader lags, and takes lines again once it catches up', () => {
    const sink = new FakeSink();
    const w = new LineWriter(1, 10, sink);
    expect(w.write('12345\n')).toBe(true); // 6 buffered (under way)
    expect(w.write('abc\n')).toBe(true); // 10
    expect(w.write('z\n')).toBe(false); // 12 > 10
    expect(w.dropped).toBe(1);
    sink.complete();
    sink.complete();
    expect(w.write('z\n')).toBe(true);
    expect(sink.calls).toEqual(['12345\n', 'abc\n', 'z\n']);
  });

  it('stops logging, without throwing, when the reader is gone (EPIPE)', () => {
    const sink = new FakeSink();
    const w = new LineWriter(1, 1 << 20, sink);
    w.write('a\n');
    w.write('b\n');
    sink.complete(errno('EPIPE'));
    expect(w.write('c\n')).toBe(false);
    w.flushSync();
    expect(sink.calls).toEqual(['a\n']);
    expect(sink.syncCalls).toEqual([]);
  });

  it('flushSync writes what is buffered behind the write under way, at once', () => {
    const sink = new FakeSink();
    const w = new LineWriter(1, 1 << 20, sink);
    w.write('a\n');
    w.write('b\n');
    w.write('c\n');
    w.flushSync();
    expect(sink.syncCalls).toEqual(['b\nc\n']);
    expect(sink.calls).toEqual(['a\n']);
  });

  it('writes a retry that is waiting first, then the rest, when flushed synchronously; the retry never fires after', async () => {
    const sink = new FakeSink();
    const w = new LineWriter(1, 1 << 20, sink);
    w.write('a\n');
    w.write('b\n');
    sink.complete(errno('EAGAIN'));
    w.write('c\n');
    w.flushSync();
    expect(sink.syncCalls.join('')).toBe('a\nb\nc\n');
    await new Promise((r) => setTimeout(r, 30));
    expect(sink.calls).toEqual(['a\n']);
  });

  it('writes whole lines, at most MAX_WRITE_BYTES per write, a longer line alone', () => {
    const sink = new FakeSink();
    const w = new LineWriter(1, 1 << 24, sink);
    const size = 5000;
    const line = (i: number, n = size) => `${String(i).padStart(4, '0')}${'x'.repeat(n - 5)}\n`;
    const perWrite = Math.floor(MAX_WRITE_BYTES / size);
    const lines = [line(0), ...Array.from({ length: 2 * perWrite + 3 }, (_, i) => line(i + 1)), line(99, MAX_WRITE_BYTES + 10), line(100)];
    for (const l of lines) w.write(l);
    while (sink.pending > 0) sink.complete();
    expect(sink.bytes.join('')).toBe(lines.join(''));
    for (const b of sink.bytes) expect(b.toString().endsWith('\n')).toBe(true);
    expect(sink.bytes.map((b) => b.length)).toEqual([size, perWrite * size, perWrite * size, 3 * size, MAX_WRITE_BYTES + 10, size]);
  });

  it('counts bytes, not characters, against MAX_WRITE_BYTES: lines of multi-byte characters are split across writes', () => {
    const sink = new FakeSink();
    const w = new LineWriter(1, 1 << 24, sink);
    // 1,000 characters, 2,990 bytes each: 65 lines' characters fit in one write, their bytes do not.
    const line = (i: number) => `${String(i).padStart(4, '0')}${'€'.repeat(995)}\n`;
    const lines = Array.from({ length: 70 }, (_, i) => line(i));
    w.write(line(999)); // in flight: the rest queue behind it
    for (const l of lines) w.write(l);
    while (sink.pending > 0) sink.complete();
    expect(Buffer.concat(sink.bytes).toString()).toBe([line(999), ...lines].join(''));
    for (const b of sink.bytes) {
      expect(b.length).toBeLessThanOrEqual(MAX_WRITE_BYTES);
      expect(b.toString().endsWith('\n')).toBe(true);
    }
    const perWrite = Math.floor(MAX_WRITE_BYTES / Buffer.byteLength(line(0)));
    expect(sink.bytes.slice(1).map((b) => b.length / Buffer.byteLength(line(0)))).toEqual([perWrite, perWrite, perWrite, 70 - 3 * perWrite]);
  });

  it('keeps up when every turn of the event loop logs more than one small write holds', () => {
    // One write completes per turn; each turn logs 30 lines of 500 bytes (15 KB): what a turn
    // logs must go out in the next write, or lines pile up turn after turn.
    const sink = new FakeSink();
    const w = new LineWriter(1, 1 << 24, sink);
    const turn = (t: number) => Array.from({ length: 30 }, (_, i) => `${String(t * 100 + i).padStart(6, '0')}${'y'.repeat(493)}\n`);
    for (let t = 0; t < 20; t++) {
      for (const l of turn(t)) w.write(l);
      sink.complete();
    }
    const written = sink.bytes.slice(0, -1).reduce((n, b) => n + b.length, 0);
    expect(written).toBeGreaterThanOrEqual(19 * 30 * 500 - 500);
  });

  it('flush calls back once the lines buffered when it was called are written, not later ones', () => {
    const sink = new FakeSink();
    const w = new LineWriter(1, 1 << 20, sink);
    const flushed: string[] = [];
    w.flush(() => flushed.push('empty'));
    w.write('a\n');
    w.write('b\n');
    w.flush(() => flushed.push('ab'));
    w.write('c\n');
    sink.complete(); // a
    expect(flushed).toEqual(['empty']);
    sink.complete(); // b and c
    expect(flushed).toEqual(['empty', 'ab']);
  });
});
