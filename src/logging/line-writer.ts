// Log lines to a file descriptor (stdout), written asynchronously and in order: lines are handed
// to the kernel as soon as the previous write finished, and lines logged meanwhile go out
// together in the next writes.
//
// Why not pino.destination({ sync: false }) (sonic-boom): its write() measures the byte length of
// the buffered text it appends to on every line, which flattens that text each time. Under load
// that is a copy of up to 16 KiB per request (6 KB of garbage per request with a tiny model,
// the largest single allocation of a request), and the collector's work grows with it.
import fs from 'node:fs';

/** What the writer needs from the file system; fs by default, a fake in tests. */
export interface LineSink {
  write(fd: number, data: Buffer, callback: (err: NodeJS.ErrnoException | null, written: number) => void): void;
  writeSync(fd: number, data: Buffer): number;
}

/**
 * At most this many bytes per write, in whole lines (a longer line goes alone): Linux's default
 * pipe capacity. The processes of a cluster share stdout, and Linux copies a write into a pipe in
 * one piece while the pipe has room for it, so their lines do not interleave unless the reader
 * has fallen a whole pipe behind. Smaller writes (PIPE_BUF, 4 KiB, is atomic even into a full
 * pipe) cannot keep up: one write completes per turn of the event loop, and a busy turn logs
 * more than 4 KiB, so lines piled up, lived long enough to be promoted to the old generation,
 * and would in the end have been dropped.
 */
export const MAX_WRITE_BYTES = 64 * 1024;
const RETRY_MS = 10;

export class LineWriter {
  private pending: string[] = [];
  private head = 0;
  /** Characters buffered, counting a write under way: the bound on what a lagging reader costs. */
  private buffered = 0;
  /** The write under way: its bytes not yet taken, its characters and lines. */
  private inFlight: { data: Buffer; chars: number; lines: number } | undefined;
  /** True while the kernel has the write (a callback will come); false while a retry waits. */
  private inKernel = false;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private queued = 0;
  private written = 0;
  private waiters: Array<{ upTo: number; callback: () => void }> = [];
  /** Lines refused because the buffer was full. */
  dropped = 0;

  constructor(
    private readonly fd: number,
    private readonly maxBufferedChars: number,
    private readonly sink: LineSink = fs,
  ) {}

  /** Buffers one line (pino passes each with its newline); false when it was dropped. */
  write(line: string): boolean {
    if (this.closed) return false;
    if (this.buffered + line.length > this.maxBufferedChars) {
      this.dropped++;
      return false;
    }
    this.pending.push(line);
    this.buffered += line.length;
    this.queued++;
    if (this.inFlight === undefined) this.writeNext();
    return true;
  }

  /**
   * Writes everything buffered before returning (pino's fatal(), and exit: no event loop is left
   * to wait on). A write waiting to be retried goes first; one the kernel has now cannot be
   * waited for, and what follows it is written after it.
   */
  flushSync(): void {
    if (this.closed) return;
    if (this.inFlight !== undefined && !this.inKernel) {
      clearTimeout(this.retry);
      const { data, chars, lines } = this.inFlight;
      this.inFlight = undefined;
      if (!this.writeAllSync(data)) return;
      this.settle(chars, lines);
    }
    for (let chunk = this.take(); chunk !== undefined; chunk = this.take()) {
      if (!this.writeAllSync(Buffer.from(chunk.text))) return;
      this.settle(chunk.text.length, chunk.lines.length);
    }
  }

  /** pino's logger.flush(): calls back once every line buffered now has been written. */
  flush(callback?: (err?: Error) => void): void {
    if (callback === undefined) return;
    if (this.closed || this.written >= this.queued) return callback();
    this.waiters.push({ upTo: this.queued, callback });
  }

  /**
   * Whole lines from the front of the buffer, up to MAX_WRITE_BYTES (one line at least), counted
   * in characters: a character is at least one byte, and log lines are nearly all ASCII, so this
   * rarely takes too many; writeNext measures the bytes once and puts back any excess.
   */
  private take(): { lines: string[]; text: string } | undefined {
    if (this.head === this.pending.length) return undefined;
    let end = this.head;
    let size = 0;
    do {
      size += (this.pending[end] as string).length;
      end++;
    } while (end < this.pending.length && size + (this.pending[end] as string).length <= MAX_WRITE_BYTES);
    const lines = this.pending.slice(this.head, end);
    this.head = end;
    if (this.head === this.pending.length) {
      this.pending = [];
      this.head = 0;
    }
    return { lines, text: lines.length === 1 ? (lines[0] as string) : lines.join('') };
  }

  private writeNext(): void {
    const chunk = this.take();
    if (chunk === undefined) return;
    let { lines, text } = chunk;
    let data = Buffer.from(text);
    if (data.length > MAX_WRITE_BYTES && lines.length > 1) {
      // Multi-byte characters: keep the lines that fit in MAX_WRITE_BYTES, the rest go first next.
      let keep = 0;
      for (let bytes = 0; keep < lines.length; keep++) {
        bytes += Buffer.byteLength(lines[keep] as string);
        if (bytes > MAX_WRITE_BYTES && keep > 0) break;
      }
      this.pending = [...lines.slice(keep), ...this.pending.slice(this.head)];
      this.head = 0;
      lines = lines.slice(0, keep);
      text = lines.join('');
      data = Buffer.from(text);
    }
    this.inFlight = { data, chars: text.length, lines: lines.length };
    this.send();
  }

  private send(): void {
    const flight = this.inFlight;
    if (flight === undefined) return;
    this.inKernel = true;
    this.sink.write(this.fd, flight.data, (err, written) => {
      // flushSync or close took this write over meanwhile.
      if (this.inFlight !== flight) return;
      this.inKernel = false;
      if (err) {
        // A non-blocking descriptor that is full: the same bytes again shortly.
        if (err.code === 'EAGAIN') return void (this.retry = setTimeout(() => this.send(), RETRY_MS));
        // The reader is gone (EPIPE) or the descriptor is bad: logging stops, serving goes on.
        return this.close();
      }
      if (written < flight.data.length) {
        flight.data = flight.data.subarray(written);
        return this.send();
      }
      this.inFlight = undefined;
      this.settle(flight.chars, flight.lines);
      this.writeNext();
    });
  }

  /** Accounts for lines now written, and calls back the flushes waiting for them. */
  private settle(chars: number, lines: number): void {
    this.buffered -= chars;
    this.written += lines;
    if (this.waiters.length === 0) return;
    const done = this.waiters.filter((w) => w.upTo <= this.written);
    this.waiters = this.waiters.filter((w) => w.upTo > this.written);
    for (const w of done) w.callback();
  }

  /** Writes all of `data` now; false (and logging stops) when the descriptor fails. */
  private writeAllSync(data: Buffer): boolean {
    while (data.length > 0) {
      try {
        data = data.subarray(this.sink.writeSync(this.fd, data));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') {
          this.close();
          return false;
        }
        // A full non-blocking pipe: wait for the reader rather than spin.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RETRY_MS);
      }
    }
    return true;
  }

  private close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.pending = [];
    this.head = 0;
    this.inFlight = undefined;
    this.buffered = 0;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.callback();
  }
}

// One exit hook for every writer, holding them weakly: tests create many loggers.
const live = new Set<WeakRef<LineWriter>>();
let hooked = false;

/** Flushes `writer` synchronously when the process exits, however it exits. */
export function flushOnExit(writer: LineWriter): void {
  for (const ref of live) if (ref.deref() === undefined) live.delete(ref);
  live.add(new WeakRef(writer));
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const ref of live) ref.deref()?.flushSync();
  });
}
