// Run as its own process (test/http/in-flight.test.ts) with a small young generation and
// --expose-gc. Tracks objects the way a busy server tracks its responses (50 in flight, the oldest
// finishing as each new one arrives) in an InFlightList, or in a Set with "set", and prints one
// JSON line: the MB allocated for the tracked objects, the young-generation collections meanwhile,
// and the MB the old generation grew by (what those collections promoted).
import v8 from 'node:v8';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { InFlightList, type InFlightEntry } from '../../src/http/in-flight.js';

const mode = process.argv[2];
const IN_FLIGHT = 50;
const WARMUP = 20_000;
const ROUNDS = 200_000;
const PAYLOAD = 64; // elements per tracked object: ~0.6 KB with its array

interface Tracked {
  readonly payload: number[];
}
const list = new InFlightList<Tracked>();
const set = new Set<Tracked>();
// The handle `add` returns is what `remove` takes: the object itself for the Set, the entry for the list.
type Handle = Tracked | InFlightEntry<Tracked>;
const add = mode === 'set' ? (t: Tracked): Handle => (set.add(t), t) : (t: Tracked): Handle => list.add(t);
const remove = mode === 'set' ? (h: Handle) => set.delete(h as Tracked) : (h: Handle) => list.remove(h as InFlightEntry<Tracked>);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
let scavenges = 0;
new PerformanceObserver((entries) => {
  for (const e of entries.getEntries()) if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
}).observe({ entryTypes: ['gc'] });

const oldUsed = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_used_size ?? 0;
const ring: Array<Handle | undefined> = new Array<Handle | undefined>(IN_FLIGHT).fill(undefined);
let grown = 0;
let last = 0;
for (let i = 0; i < WARMUP + ROUNDS; i++) {
  const k = i % IN_FLIGHT;
  const done = ring[k];
  if (done !== undefined) remove(done);
  ring[k] = add({ payload: new Array<number>(PAYLOAD).fill(i) });
  if (i === WARMUP) {
    // A full collection, as a server has now and then: it moves what is live (the container and
    // what it tracks now) to the old generation.
    gc();
    last = oldUsed();
    scavenges = 0;
  }
  if (i > WARMUP && i % 500 === 0) {
    // Growth only: a full collection meanwhile lowers the figure, it never hides growth.
    const now = oldUsed();
    if (now > last) grown += now - last;
    last = now;
  }
}
const MB = 2 ** 20;
const tracked = mode === 'set' ? set.size : list.size;
// GC entries reach observers asynchronously: report once they have.
setTimeout(() => console.log(JSON.stringify({ allocatedMB: (ROUNDS * (PAYLOAD * 8 + 40)) / MB, scavenges, promotedMB: grown / MB, tracked })), 50);
