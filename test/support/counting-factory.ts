// Wraps the real onnxruntime session factory to count loads and releases, and to make loads
// fail on demand, so cache behaviour is observed on real sessions. With `workers`, the sessions
// are the inference pool's, every run on a worker thread (as the gateway runs models by default,
// without moving tiny ones inline), so a suite shows the same answers through the threads.
import { afterAll } from 'vitest';
import { InferencePool } from '../../src/inference/pool/pool.js';
import { createOrtSessionFactory, type ModelSession, type SessionFactory } from '../../src/inference/session.js';

export interface CountingFactory extends SessionFactory {
  readonly created: string[];
  readonly released: string[];
  /** Fail the next `count` loads with this message. */
  failNext(message: string, count?: number): void;
  /** Slow every load down by this many milliseconds. */
  delayMs: number;
}

/** Worker-backed factories of the test file, stopped after its last test. */
const pools: InferencePool[] = [];
afterAll(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

export function countingFactory(options: { workers?: boolean } = {}): CountingFactory {
  const inProcess = createOrtSessionFactory({ intraOpNumThreads: 1 });
  let real: SessionFactory = inProcess;
  if (options.workers) {
    const pool = new InferencePool({ threads: 2, inline: { enabled: false }, inlineFactory: inProcess });
    pools.push(pool);
    real = pool;
  }
  let failures: { message: string; count: number } | undefined;
  const factory: CountingFactory = {
    created: [],
    released: [],
    delayMs: 0,
    failNext(message, count = 1) {
      failures = { message, count };
    },
    async create(filePath) {
      factory.created.push(filePath);
      if (factory.delayMs > 0) await new Promise((r) => setTimeout(r, factory.delayMs));
      if (failures && failures.count > 0) {
        failures.count--;
        throw new Error(failures.message);
      }
      const session = await real.create(filePath);
      const wrapped: ModelSession = {
        signature: session.signature,
        run: (feeds, outputs) => session.run(feeds, outputs),
        release: async () => {
          factory.released.push(filePath);
          await session.release();
        },
      };
      return wrapped;
    },
  };
  return factory;
}
