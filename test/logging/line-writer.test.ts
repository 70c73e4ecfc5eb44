// The stdout writer: lines go out in order, coalesced while a write is under way, whatever the
// kernel takes per call; a full buffer drops lines, a gone reader stops logging, exit flushes.
import { describe, expect, it } from 'vitest';
import { LineWriter, type LineSink } from '../../src/logging/line-writer.js';

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
});
