// A loaded model behind a small interface that speaks only plain data (typed arrays, strings,
// shapes), so the same contract is served from worker threads (inference/pool): onnxruntime-node's
// run() blocks the thread it computes on. This inline factory runs on the calling thread.
import * as ort from 'onnxruntime-node';
import { isOrtType, type OrtType, type TensorData } from './dtypes.js';

export interface TensorSpec {
  readonly name: string;
  readonly isTensor: true;
  readonly type: OrtType;
  /** Fixed dims as numbers, symbolic (dynamic) dims as their name. Empty when unknown. */
  readonly shape: ReadonlyArray<number | string>;
}

export interface NonTensorSpec {
  readonly name: string;
  readonly isTensor: false;
}

export interface Signature {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: ReadonlyArray<TensorSpec | NonTensorSpec>;
}

export interface HostTensor {
  readonly type: OrtType;
  readonly dims: readonly number[];
  readonly data: TensorData;
  /**
   * The data belongs to the caller (a raw request tensor that a fallback or a shadow copy may
   * run again): a worker pool must copy it, never transfer (detach) it.
   */
  readonly borrowed?: boolean;
}

export interface ModelSession {
  readonly signature: Signature;
  /** Runs the model; `outputs` names which outputs to fetch (tensor outputs only). */
  run(feeds: Readonly<Record<string, HostTensor>>, outputs: readonly string[]): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
  /**
   * Its runs grow with load (a batching version's batches): a session that could move onto the
   * event loop (inference/pool) stays on, or goes back to, its worker thread.
   */
  keepOnWorker?(): void;
}

export interface SessionFactory {
  create(filePath: string): Promise<ModelSession>;
  /** Stops what the factory runs (worker threads), if anything. */
  close?(): Promise<void>;
}

export class ModelLoadError extends Error {}

function specOf(meta: ort.InferenceSession.ValueMetadata): TensorSpec | NonTensorSpec {
  if (!meta.isTensor) return { name: meta.name, isTensor: false };
  if (!isOrtType(meta.type)) return { name: meta.name, isTensor: false };
  return { name: meta.name, isTensor: true, type: meta.type, shape: [...meta.shape] };
}

class OrtModelSession implements ModelSession {
  readonly signature: Signature;

  constructor(private readonly session: ort.InferenceSession) {
    const inputs = session.inputMetadata.map(specOf);
    const unsupported = inputs.find((i) => !i.isTensor);
    if (unsupported) throw new ModelLoadError(`input "${unsupported.name}" is not a tensor of a supported type`);
    this.signature = Object.freeze({
      inputs: Object.freeze(inputs as TensorSpec[]),
      outputs: Object.freeze(session.outputMetadata.map(specOf)),
    });
  }

  async run(feeds: Readonly<Record<string, HostTensor>>, outputs: readonly string[]): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      ortFeeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    }
    const result = await this.session.run(ortFeeds, [...outputs]);
    const out: Record<string, HostTensor> = {};
    for (const name of outputs) {
      const t = result[name];
      if (!t) continue;
      if (!isOrtType(t.type)) throw new Error(`output "${name}" has unsupported type ${t.type}`);
      out[name] = { type: t.type, dims: [...t.dims], data: t.data as TensorData };
    }
    return out;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

export interface OrtFactoryOptions {
  /** Threads per session for one run; 0 lets onnxruntime choose. */
  readonly intraOpNumThreads?: number;
}

export function createOrtSessionFactory(options: OrtFactoryOptions = {}): SessionFactory {
  return {
    async create(filePath) {
      let session: ort.InferenceSession;
      try {
        session = await ort.InferenceSession.create(filePath, {
          executionProviders: ['cpu'],
          graphOptimizationLevel: 'all',
          intraOpNumThreads: options.intraOpNumThreads ?? 0,
          // Failures surface as errors we log with context; ORT's own stderr lines would duplicate them.
          logSeverityLevel: 4,
        });
      } catch (err) {
        throw new ModelLoadError(err instanceof Error ? err.message : String(err), { cause: err });
      }
      try {
        return new OrtModelSession(session);
      } catch (err) {
        await session.release();
        throw err;
      }
    },
  };
}
