// Live snapshots for the console's event streams: while anyone watches, one snapshot a second is
// built once and sent to every open stream. Streams end when the gateway starts draining (so an
// open console never holds the HTTP server's close) or when the gateway closes.
import { buildSnapshot, localPart, mergedSnapshot, type ConsolePart, type ConsoleSnapshot, type SnapshotDeps } from './snapshot.js';

export interface FeedDeps extends SnapshotDeps {
  /** True once shutdown has begun (Lifecycle.draining). */
  readonly isDraining: () => boolean;
  /** Between snapshots on the streams (default 1000 ms). */
  readonly intervalMs?: number;
}

export interface Subscriber {
  /** Takes one serialised snapshot. */
  send(json: string): void;
  /** Ends the stream. */
  end(): void;
}

export class ConsoleFeed {
  private readonly subscribers = new Set<Subscriber>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private parts: (() => Promise<ConsolePart[]>) | undefined;

  constructor(private readonly deps: FeedDeps) {}

  /** Joins a cluster: snapshots then show every process's part (src/cluster/worker.ts). */
  usePeers(parts: () => Promise<ConsolePart[]>): void {
    this.parts = parts;
  }

  /** The gateway's snapshot: this process's, or in a cluster the whole gateway's. */
  async snapshot(): Promise<ConsoleSnapshot> {
    return this.parts ? mergedSnapshot(await this.parts()) : buildSnapshot(this.deps);
  }

  /** This process's part of a cluster's snapshot. */
  localPart(): Promise<ConsolePart> {
    return localPart(this.deps);
  }

  /** False when no new stream may start (draining or closed). */
  get open(): boolean {
    return !this.closed && !this.deps.isDraining();
  }

  /** Adds a stream; it gets a snapshot at once, then one per interval. Returns the unsubscribe. */
  private ticking = false;

  subscribe(subscriber: Subscriber): () => void {
    this.subscribers.add(subscriber);
    void this.snapshot().then(
      (s) => this.subscribers.has(subscriber) && subscriber.send(JSON.stringify(s)),
      () => {},
    );
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), this.deps.intervalMs ?? 1000);
      this.timer.unref();
    }
    return () => this.unsubscribe(subscriber);
  }

  /** Ends every stream and refuses new ones. */
  close(): void {
    this.closed = true;
    this.endAll();
  }

  get watching(): number {
    return this.subscribers.size;
  }

  private unsubscribe(subscriber: Subscriber): void {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private endAll(): void {
    for (const s of [...this.subscribers]) {
      this.unsubscribe(s);
      s.end();
    }
  }

  private async tick(): Promise<void> {
    if (!this.open) {
      this.endAll();
      return;
    }
    // A cluster snapshot asks every process (up to 5 s when one is slow): never two at once, so
    // a stalled process cannot pile up questions or send snapshots out of order.
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.send();
    } finally {
      this.ticking = false;
    }
  }

  private async send(): Promise<void> {
    let json: string;
    try {
      json = JSON.stringify(await this.snapshot());
    } catch {
      return; // the next tick tries again
    }
    for (const s of this.subscribers) s.send(json);
  }
}
