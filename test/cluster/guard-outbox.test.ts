// A process's guarded outcomes leave in batches: never a message per request, nothing lost or
// reordered, and nothing waits longer than the flush interval.
import { describe, expect, it } from 'vitest';
import { GuardOutbox } from '../../src/cluster/guard-outbox.js';
import type { GuardBatch } from '../../src/cluster/messages.js';

describe('GuardOutbox', () => {
  it('sends a burst of outcomes as a few messages, every outcome once and in order', async () => {
    const sent: GuardBatch[][] = [];
    const outbox = new GuardOutbox((b) => sent.push(b), 20, 256);
    for (let i = 0; i < 1000; i++) outbox.add('m', i % 4 === 0 ? '2' : '1', i % 4 === 0, i);
    // Version 1 reached 256 waiting outcomes twice: sent at once, not per request.
    expect(sent.length).toBe(2);
    await new Promise((r) => setTimeout(r, 60));
    expect(sent.length).toBe(3); // the rest, one message after the interval
    const samples = (version: string) => sent.flat().filter((b) => b.version === version).flatMap((b) => b.samples);
    const expected = (version: string) => Array.from({ length: 1000 }, (_, i) => i).filter((i) => (i % 4 === 0) === (version === '2')).flatMap((i) => [i, version === '2' ? 1 : 0]);
    expect(samples('1')).toEqual(expected('1'));
    expect(samples('2')).toEqual(expected('2'));
  });

  it('sends a lone outcome after the interval, and at once on flush', async () => {
    const sent: GuardBatch[][] = [];
    const outbox = new GuardOutbox((b) => sent.push(b), 20);
    outbox.add('m', '1', true, 4.5);
    expect(sent).toEqual([]);
    await new Promise((r) => setTimeout(r, 60));
    expect(sent).toEqual([[{ model: 'm', version: '1', samples: [4.5, 1] }]]);
    outbox.add('m', '1', false, 1);
    outbox.flush();
    expect(sent[1]).toEqual([{ model: 'm', version: '1', samples: [1, 0] }]);
    outbox.flush(); // nothing waiting: nothing sent
    expect(sent).toHaveLength(2);
  });
});
