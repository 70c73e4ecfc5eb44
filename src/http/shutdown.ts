// Graceful shutdown of the HTTP server, the way Envoy drains a listener. On the first signal:
//   1. draining: readiness turns false (the caller's onDraining) and every response says
//      `Connection: close`, so keep-alive clients move to other replicas;
//   2. for the drain window the listener stays open, because a load balancer may still route
//      new connections here until it has seen readiness fail;
//   3. then, once the connections still queued in the kernel are taken in, the listener closes,
//      in-flight requests finish, idle connections are closed;
//   4. whatever is still running when the grace period ends is cut off.
// Node's own server.close() is not used for step 3: it also destroys every connection without
// a request in progress, including ones whose request has arrived but is not parsed yet (the
// event loop may be busy running a model), and those clients would get a reset.
import type http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { InFlightList } from './in-flight.js';

export interface ShutdownLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface DrainOptions {
  /** Keep accepting new connections this long after the signal. */
  readonly drainMs: number;
  /** Cut off whatever is still running this long after the signal. */
  readonly graceMs: number;
  readonly log: ShutdownLogger;
  /** Called once, first: report not ready. */
  readonly onDraining: () => void;
}

export type ShutdownResult = 'drained' | 'forced';

export interface Drainer {
  /** Requests whose response has not finished yet. */
  inFlight(): number;
  /** Idempotent: every call returns the one shutdown's outcome. */
  shutdown(signal: string): Promise<ShutdownResult>;
}

/** How long a connection must stay without a request, after the last one finished, before it is closed. */
const IDLE_SWEEP_MS = 100;
/** Event-loop turns in a row without a new connection before the accept queue counts as empty. */
const QUIET_TURNS = 3;
const TURN_MS = 5;

/**
 * Takes in the connections still waiting in the kernel's accept queue, which closing the
 * listener would reset. While a model run blocks the event loop, Node accepts only one or two
 * connections per loop turn, so a burst that arrived within the drain window can still be
 * queued at its end. Done after a few turns in a row bring nothing new, or at `untilMs`.
 */
async function acceptWaiting(server: http.Server, untilMs: number): Promise<void> {
  let accepted = 0;
  const count = (): void => {
    accepted++;
  };
  server.on('connection', count);
  try {
    for (let quiet = 0; quiet < QUIET_TURNS && performance.now() < untilMs; ) {
      const before = accepted;
      const started = performance.now();
      await new Promise((resolve) => setTimeout(resolve, TURN_MS));
      // Only a prompt turn with nothing new says the queue is empty; a turn spent running a
      // model says nothing about it.
      const prompt = performance.now() - started < TURN_MS + 20;
      quiet = accepted === before && prompt ? quiet + 1 : 0;
    }
  } finally {
    server.off('connection', count);
  }
}

/** Call before `listen`, so every request is counted. */
export function drainOnShutdown(server: http.Server, options: DrainOptions): Drainer {
  // Not a Set: see in-flight.ts (a Set here made every request's objects outlive the young generation).
  const active = new InFlightList<http.ServerResponse>();
  let draining = false;
  let listenerClosed = false;
  let sweep: NodeJS.Timeout | undefined;

  const sweepIdle = (): void => {
    if (!listenerClosed || active.size > 0 || sweep) return;
    sweep = setTimeout(() => {
      sweep = undefined;
      if (active.size === 0) server.closeIdleConnections();
    }, IDLE_SWEEP_MS);
  };

  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    const entry = active.add(res);
    if (draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      active.remove(entry);
      sweepIdle();
    });
  });

  let result: Promise<ShutdownResult> | undefined;
  const run = (signal: string): Promise<ShutdownResult> =>
    new Promise<ShutdownResult>((resolve) => {
      draining = true;
      options.onDraining();
      // Responses not started yet close their connection too (Node reads this when writing headers).
      for (const res of active.values()) if (!res.headersSent) res.shouldKeepAlive = false;
      options.log.info({ signal, inFlight: active.size, drainSeconds: options.drainMs / 1000, graceSeconds: options.graceMs / 1000 }, 'draining');

      const forced = setTimeout(() => {
        options.log.warn({ inFlight: active.size }, 'grace period over; closing remaining connections');
        server.closeAllConnections();
        resolve('forced');
      }, options.graceMs);
      forced.unref();

      server.once('close', () => {
        clearTimeout(forced);
        resolve('drained');
      });
      const graceEnds = performance.now() + options.graceMs;
      setTimeout(() => {
        // Connections that reached us within the window are taken in before the listener goes;
        // a busy server takes one per loop turn, so this may last a while, but at most half the
        // grace that is left (the rest is for finishing their work).
        const until = performance.now() + (graceEnds - performance.now()) / 2;
        void acceptWaiting(server, until).then(() => {
          listenerClosed = true;
          net.Server.prototype.close.call(server);
          options.log.info({ inFlight: active.size }, 'stopped accepting connections');
          sweepIdle();
        });
      }, options.drainMs);
    });

  return {
    inFlight: () => active.size,
    shutdown(signal) {
      if (result === undefined) result = run(signal);
      else options.log.info({ signal }, 'already shutting down');
      return result;
    },
  };
}
