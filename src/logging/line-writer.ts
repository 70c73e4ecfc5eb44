// Log lines to a file descriptor (stdout), written asynchronously and in order: a line is handed
// to the kernel as soon as the previous write finished, and lines logged meanwhile go out
// together in the next write, joined once.
//
// Why not pino.destination({ sync: false }) (sonic-boom): its write() measures the byte length of
// the buffered text it appends to on every line, which flattens that text each time. Under load
// that is a copy of up to 16 KiB per request (6 KB of garbage per request with a tiny model,
// the largest single allocation of a request), and the collector's work grows with it.
import fs from 'node:fs';

/** What write() needs from the file system; fs by default, a fake in tests. */
export interface LineSink {
  write(fd: number, data: Buffer, callback: (err: NodeJS.ErrnoException | null, written: number) => void): void;
  writeSync(fd: number, data: Buffer): number;
}

const RETRY_MS = 10;

export class LineWriter {
  private pending: string[] = [];
  /** Characters buffered, counting a write under way: the bound on what a lagging reader costs. */
  private buffered = 0;
  private inFlight: Buffer | undefined;
  private closed = false;
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
    if (this.inFlight === undefined) this.writeNext();
    return true;
  }

  /** Writes everything buffered before returning (on exit: no event loop is left to wait on). */
  flushSync(): void {
    if (this.closed) return;
    // A write under way finishes on its own thread; what follows it goes out now.
    const text = this.take();
    if (text === undefined) return;
    let data = Buffer.from(text);
    while (data.length > 0) {
      try {
        data = data.subarray(this.sink.writeSync(this.fd, data));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return this.close();
      }
    }
    this.buffered = 0;
  }

  /** pino's logger.flush(): calls back once what is buffered now has been written. */
  flush(callback?: (err?: Error) => void): void {
    if (callback === undefined) return;
    if (this.inFlight === undefined && this.pending.length === 0) return callback();
    const check = (): void => {
      if (this.inFlight === undefined && this.pending.length === 0) callback();
      else setTimeout(check, 1).unref();
    };
    check();
  }

  private take(): string | undefined {
    if (this.pending.length === 0) return undefined;
    const text = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    return text;
  }

  private writeNext(): void {
    const text = this.take();
    if (text === undefined) return;
    this.send(Buffer.from(text), text.length);
  }

  private send(data: Buffer, chars: number): void {
    this.inFlight = data;
    this.sink.write(this.fd, data, (err, written) => {
      if (err) {
        // A non-blocking descriptor that is full: try the same bytes again shortly.
        if (err.code === 'EAGAIN') return void setTimeout(() => this.send(data, chars), RETRY_MS);
        // The reader is gone (EPIPE) or the descriptor is bad: logging stops, serving goes on.
        return this.close();
      }
      if (written < data.length) return this.send(data.subarray(written), chars);
      this.inFlight = undefined;
      this.buffered -= chars;
      this.writeNext();
    });
  }

  private close(): void {
    this.closed = true;
    this.pending = [];
    this.inFlight = undefined;
    this.buffered = 0;
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
