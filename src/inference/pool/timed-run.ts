// A run's own duration, without the wait for its turn: onnxruntime-node's run() defers the
// computation to setImmediate, so timing around `await run()` also counts however long the
// event loop takes to reach its check phase (milliseconds on a busy server). An immediate queued
// just before run() fires right before onnxruntime's, marking the start of the computation.
import { performance } from 'node:perf_hooks';
import type { HostTensor, ModelSession } from '../session.js';

export async function timedRun(
  session: ModelSession,
  feeds: Readonly<Record<string, HostTensor>>,
  outputs: readonly string[],
): Promise<{ out: Record<string, HostTensor>; us: number }> {
  const called = performance.now();
  let started = 0;
  setImmediate(() => {
    started = performance.now();
  });
  const out = await session.run(feeds, outputs);
  // Should a session compute without deferring, the mark never fired first: time the whole call.
  const from = started === 0 ? called : started;
  return { out, us: (performance.now() - from) * 1000 };
}
