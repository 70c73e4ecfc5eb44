// Run as its own process (test/http/in-flight.test.ts), with a small young generation and
// --expose-gc: tracks
// objects the way a busy server tracks its responses (50 in flight, the oldest finishing as each
// new one arrives) in an InFlightList, or in a Set with "set", and prints one JSON line: the MB
// allocated for the tracked objects and the MB the old generation grew by meanwhile (what the
// young-generation collector promoted).
import v8 from 'node:v8';
import { InFlightList } from '../../src/http/in-flight.js';

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
const add = mode === 'set' ? (t: Tracked) => (set.add(t), t) : (t: Tracked) => list.add(t);
const remove = mode === 'set' ? (h: unknown) => set.delete(h as Tracked) : (h: unknown) => list.remove(h as ReturnType<typeof list.add>);

const oldUsed = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_used_size ?? 0;
const ring: unknown[] = new Array(IN_FLIGHT).fill(undefined);
let grown = 0;
let last = 0;
for (let i = 0; i < WARMUP + ROUNDS; i++) {
  const k = i % IN_FLIGHT;
  if (ring[k] !== undefined) remove(ring[k]);
  ring[k] = add({ payload: new Array<number>(PAYLOAD).fill(i) });
  if (i === WARMUP) {
    // A full collection, as a server has now and then: it moves what is live (the container and
    // what it tracks now) to the old generation. Needs --expose-gc.
    (globalThis as { gc?: () => void }).gc?.();
    last = oldUsed();
  }
  if (i > WARMUP && i % 500 === 0) {
    // Growth only: a full collection meanwhile lowers the figure, it never hides growth.
    const now = oldUsed();
    if (now > last) grown += now - last;
    last = now;
  }
}
const MB = 2 ** 20;
console.log(JSON.stringify({ allocatedMB: (ROUNDS * (PAYLOAD * 8 + 40)) / MB, promotedMB: grown / MB, tracked: mode === 'set' ? set.size : list.size }));
