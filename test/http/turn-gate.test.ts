// Large bodies are decoded one per turn of the event loop (http/turn-gate.ts), so whatever else
// is ready (here a due timer; on a server, other sockets' reads) runs between two of them.
import { describe, expect, it } from 'vitest';
import { LARGE_BODY_CHARS, turnFor } from '../../src/http/body.js';
import { TurnGate } from '../../src/http/turn-gate.js';

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // a synchronous decode's worth of work
  }
}

describe('TurnGate', () => {
  it('gives one caller a turn per loop iteration, so other ready work runs between two large decodes', async () => {
    const gate = new TurnGate();
    const order: string[] = [];
    const decode = async (name: string) => {
      await gate.take();
      order.push(name);
      // Due by the next iteration's timers phase, which comes before the next turn.
      setTimeout(() => order.push(`timer after ${name}`), 0);
      busy(3);
    };
    await Promise.all([decode('a'), decode('b'), decode('c')]);
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(['a', 'timer after a', 'b', 'timer after b', 'c', 'timer after c']);
    expect(gate.queued).toBe(0);
  });

  it('lets small bodies through without waiting, and large ones only with a gate', async () => {
    const gate = new TurnGate();
    // Nothing to wait for: no turn taken, not even a promise to await.
    expect(turnFor({ length: LARGE_BODY_CHARS - 1 }, gate)).toBeUndefined();
    expect(gate.queued).toBe(0);
    const large = turnFor({ length: LARGE_BODY_CHARS }, gate);
    expect(large).toBeInstanceOf(Promise);
    expect(gate.queued).toBe(1);
    await large;
    expect(turnFor({ length: 10 * LARGE_BODY_CHARS }, undefined)).toBeUndefined();
  });
});
