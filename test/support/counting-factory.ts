// Wraps the real onnxruntime session factory to count loads and releases, and to make loads
// fail on demand, so cache behaviour is observed on real sessions.
import { createOrtSessionFactory, type ModelSession, type SessionFactory } from '../../src/inference/session.js';

export interface CountingFactory extends SessionFactory {
  readonly created: string[];
  readonly released: string[];
  /** Fail the next `count` loads with this message. */
  failNext(message: string, count?: number): void;
  /** Slow every load down by this many milliseconds. */
  delayMs: number;
}

export function countingFactory(): CountingFactory {
  const real = createOrtSessionFactory({ intraOpNumThreads: 1 });
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
