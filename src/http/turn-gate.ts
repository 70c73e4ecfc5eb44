// One large body decoded per turn of the event loop. JSON.parse and the walk into flat values
// of a large body (a 1024 x 8 float input is ~160 KB, 0.5-1 ms of main-thread work) run
// synchronously; several arriving together would run back to back and hold every other request,
// health checks included, for their sum. Through the gate each waits for its own turn: one per
// loop iteration (an immediate scheduled from the check phase fires on the next iteration, after
// the poll phase has taken in whatever else arrived), so a small request waits behind at most
// one large decode. Small bodies do not pass through it.
export class TurnGate {
  private readonly waiting: Array<() => void> = [];
  private scheduled = false;

  /** Resolves when it is this caller's turn; the caller's synchronous work then runs alone. */
  take(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  /** Callers waiting for a turn (for tests). */
  get queued(): number {
    return this.waiting.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const next = this.waiting.shift();
      if (this.waiting.length > 0) this.schedule();
      next?.();
    });
  }
}
