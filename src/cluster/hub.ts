// The primary's part in making the workers one gateway:
// - guard batches from one worker are relayed to every other, so each guard judges all traffic;
// - rollback claims: the first claim per (revision, model, version) wins, and the others hear of
//   it, so exactly one process counts and writes a rollback while every process routes away;
// - questions (status, console, reload) are put to every worker that has joined, and the asker
//   gets all answers at once (or those that came in time, and how many did not).
import type { Worker } from 'node:cluster';
import { ANSWER_TIMEOUT_MS, isMessage, type PrimaryMessage, type Question, type WorkerMessage } from './messages.js';
import type { ClusterLogger } from './primary.js';

interface Gathering {
  readonly waiting: Set<Worker>;
  readonly answers: unknown[];
  readonly finish: () => void;
}

/** Claims are remembered this long: far longer than any two processes take to see the same breach. */
const CLAIM_MEMORY_MS = 60 * 60_000;

export class ClusterHub {
  /** Workers whose gateway is up and listening to the hub. */
  private readonly members = new Set<Worker>();
  private readonly claims = new Map<string, number>();
  private readonly gatherings = new Map<number, Gathering>();
  private nextId = 1;

  constructor(private readonly log: ClusterLogger) {}

  /** Handles a worker's message; false if it is not one of the hub's. */
  handle(worker: Worker, message: unknown): boolean {
    if (!isMessage(message)) return false;
    const m = message as WorkerMessage;
    switch (m.type) {
      case 'mg:joined':
        this.members.add(worker);
        break;
      case 'mg:guard':
        this.toOthers(worker, { type: 'mg:guard', batches: m.batches });
        break;
      case 'mg:claim': {
        const key = JSON.stringify([m.claim.revision, m.claim.model, m.claim.version]);
        const now = Date.now();
        for (const [k, at] of this.claims) if (now - at > CLAIM_MEMORY_MS) this.claims.delete(k);
        const won = !this.claims.has(key);
        if (won) {
          this.claims.set(key, now);
          this.toOthers(worker, { type: 'mg:rolled-back', claim: m.claim });
        }
        send(worker, { type: 'mg:claimed', id: m.id, won });
        break;
      }
      case 'mg:persisted':
        this.toOthers(worker, { type: 'mg:persisted', model: m.model, version: m.version });
        break;
      case 'mg:ask':
        this.gather(m.question, (answers, missing) => send(worker, { type: 'mg:answers', id: m.id, answers, missing }));
        break;
      case 'mg:answer': {
        const g = this.gatherings.get(m.id);
        if (!g?.waiting.delete(worker)) break;
        if (m.error === undefined) g.answers.push(m.data);
        else this.log.warn({ event: 'cluster_answer_failed', pid: worker.process.pid, error: m.error }, 'a gateway process could not answer');
        if (g.waiting.size === 0) g.finish();
        break;
      }
      default:
        return false;
    }
    return true;
  }

  /** A worker exited: nothing more is sent to it or waited from it. */
  leave(worker: Worker): void {
    this.members.delete(worker);
    for (const g of this.gatherings.values()) if (g.waiting.delete(worker) && g.waiting.size === 0) g.finish();
  }

  private gather(question: Question, done: (answers: unknown[], missing: number) => void): void {
    const id = this.nextId++;
    const waiting = new Set(this.members);
    const asked = waiting.size;
    const answers: unknown[] = [];
    const timer = setTimeout(() => finish(), ANSWER_TIMEOUT_MS[question]);
    timer.unref();
    const finish = (): void => {
      if (!this.gatherings.delete(id)) return;
      clearTimeout(timer);
      // Those that errored, left, or had not answered when time ran out.
      done(answers, asked - answers.length);
    };
    this.gatherings.set(id, { waiting, answers, finish });
    if (waiting.size === 0) return finish();
    for (const w of waiting) send(w, { type: 'mg:question', id, question });
  }

  private toOthers(from: Worker, message: PrimaryMessage): void {
    for (const w of this.members) if (w !== from) send(w, message);
  }
}

function send(worker: Worker, message: PrimaryMessage): void {
  // A worker on its way out may have closed its channel; it is about to leave the hub anyway.
  if (worker.isConnected()) worker.send(message, () => {});
}
