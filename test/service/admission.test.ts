import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors/catalogue.js';
import { Admission, isRefusal, type Ticket } from '../../src/service/admission.js';

/** Work that finishes only when told to, so the test decides what is in flight. */
function gate() {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const tickets = new Map<string, Ticket>();
  const work = (id: string) => (ticket: Ticket) =>
    new Promise<string>((resolve) => {
      started.push(id);
      tickets.set(id, ticket);
      finish.set(id, () => resolve(id));
    });
  return { started, tickets, work, finish: (id: string) => finish.get(id)?.() };
}

const tick = () => new Promise((r) => setImmediate(r));

async function refusalOf(p: Promise<unknown>): Promise<GatewayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  return err as GatewayError;
}

describe('Admission', () => {
  it('runs at most perVersion of one version, queues the rest in order, and starts them as slots free', async () => {
    const a = new Admission({ perVersion: 2, perVersionQueue: 10, total: 10, totalQueue: 10, timeoutMs: 0 });
    const g = gate();
    const results = ['1', '2', '3', '4'].map((id) => a.run('m', 'v1', g.work(id)));
    const other = a.run('m', 'v2', g.work('other'));
    await tick();
    expect(g.started).toEqual(['1', '2', 'other']);
    expect(a.stats()).toEqual({ running: 3, queued: 2 });
    g.finish('2');
    await tick();
    expect(g.started).toEqual(['1', '2', 'other', '3']);
    for (const id of ['1', '3', '4', 'other']) {
      g.finish(id);
      await tick();
    }
    expect(await Promise.all([...results, other])).toEqual(['1', '2', '3', '4', 'other']);
    expect(a.stats()).toEqual({ running: 0, queued: 0 });
  });

  it('refuses with 429 TOO_MANY_REQUESTS and Retry-After when a version’s queue is full, counting it', async () => {
    const rejected: string[] = [];
    const a = new Admission({ perVersion: 1, perVersionQueue: 1, total: 10, totalQueue: 10, timeoutMs: 0 }, { onRejected: (m, v, code) => rejected.push(`${m}/${v}/${code}`) });
    const g = gate();
    const first = a.run('m', '1', g.work('a'));
    const second = a.run('m', '1', g.work('b'));
    const err = await refusalOf(a.run('m', '1', g.work('c')));
    expect(err.code).toBe('TOO_MANY_REQUESTS');
    expect(err.retryAfterSeconds).toBe(1);
    expect(err.message).toContain('"m" version "1"');
    expect(isRefusal(err)).toBe(true);
    expect(rejected).toEqual(['m/1/TOO_MANY_REQUESTS']);
    // Another version still gets in.
    const other = a.run('m', '2', g.work('d'));
    await tick();
    expect(g.started).toEqual(['a', 'd']);
    g.finish('a');
    await tick();
    g.finish('b');
    g.finish('d');
    expect(await Promise.all([first, second, other])).toEqual(['a', 'b', 'd']);
  });

  it('bounds runs over all versions and refuses with 503 OVERLOADED when the shared queue is full', async () => {
    const rejected: string[] = [];
    const a = new Admission({ perVersion: 5, perVersionQueue: 5, total: 2, totalQueue: 1, timeoutMs: 0 }, { onRejected: (_m, v, code) => rejected.push(`${v}/${code}`) });
    const g = gate();
    const running = [a.run('m', '1', g.work('a')), a.run('n', '1', g.work('b'))];
    const queued = a.run('o', '1', g.work('c'));
    const err = await refusalOf(a.run('p', '1', g.work('d')));
    expect(err.code).toBe('OVERLOADED');
    expect(err.retryAfterSeconds).toBe(1);
    expect(rejected).toEqual(['1/OVERLOADED']);
    await tick();
    expect(g.started).toEqual(['a', 'b']);
    g.finish('b');
    await tick();
    expect(g.started).toEqual(['a', 'b', 'c']);
    g.finish('a');
    g.finish('c');
    expect(await Promise.all([...running, queued])).toEqual(['a', 'b', 'c']);
    expect(a.stats()).toEqual({ running: 0, queued: 0 });
  });

  it('answers TIMEOUT after the deadline and frees the slot for the next request; a late finish changes nothing', async () => {
    const a = new Admission({ perVersion: 1, perVersionQueue: 5, total: 5, totalQueue: 5, timeoutMs: 60 });
    const g = gate();
    const stuck = a.run('m', '1', g.work('stuck'));
    await new Promise((r) => setTimeout(r, 20));
    const waiting = a.run('m', '1', g.work('waiting'));
    const err = await refusalOf(stuck);
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toBe('model "m" version "1" did not answer within 0.06 s');
    expect(g.tickets.get('stuck')?.timedOut).toBe(true);
    // The timed-out run still holds the model, but its slot went to the waiter.
    await tick();
    expect(g.started).toEqual(['stuck', 'waiting']);
    g.finish('waiting');
    expect(await waiting).toBe('waiting');
    expect(g.tickets.get('waiting')?.timedOut).toBe(false);
    g.finish('stuck');
    await tick();
    expect(a.stats()).toEqual({ running: 0, queued: 0 });
  });

  it('admits 256 concurrent requests to one version with the default limits', async () => {
    const a = new Admission();
    const g = gate();
    const all = Array.from({ length: 256 }, (_, i) => a.run('m', '1', g.work(String(i))));
    expect(a.stats().running + a.stats().queued).toBe(256);
    for (let i = 0; i < 256; i++) {
      g.finish(String(i));
      await tick();
    }
    expect((await Promise.all(all)).length).toBe(256);
  });

  it('passes the work’s own failure through and frees its slot', async () => {
    const a = new Admission({ perVersion: 1, perVersionQueue: 1, total: 1, totalQueue: 1, timeoutMs: 0 });
    await expect(a.run('m', '1', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await a.run('m', '1', () => Promise.resolve('ok'))).toBe('ok');
    expect(a.stats()).toEqual({ running: 0, queued: 0 });
  });
});
