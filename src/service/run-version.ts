// One run of one version: lease a session, check and encode the inputs against its signature,
// run, decode. Shared by primary requests and shadow copies so both see the same checks.
import type { ModelCache } from '../cache/model-cache.js';
import type { Batchers } from '../inference/batcher.js';
import { GatewayError } from '../errors/catalogue.js';
import { decodeOutput, encodeInputs, selectOutputs, type DecodedTensor, type InputTensor } from '../inference/codec.js';
import type { VersionEntry } from '../registry/revision.js';
import type { TensorData } from '../inference/dtypes.js';
import type { HostTensor } from '../inference/session.js';

export interface NamedOutput extends DecodedTensor {
  readonly name: string;
  /** The typed storage `values` are decoded from (binary transports send it as it is). */
  readonly data: TensorData;
}

export async function runVersion(
  cache: ModelCache,
  model: string,
  version: VersionEntry,
  inputs: ReadonlyMap<string, InputTensor>,
  requested: readonly string[] | undefined,
  signal?: AbortSignal,
  batchers?: Batchers,
): Promise<NamedOutput[]> {
  const lease = await cache.acquire(model, version);
  try {
    // The caller may have given up while the model loaded: do not queue a run nobody will read.
    if (signal?.aborted === true) throw new GatewayError('TIMEOUT', 'the caller cancelled or its deadline passed before the model ran');
    const feeds = encodeInputs(lease.session.signature, inputs);
    const outputNames = selectOutputs(lease.session.signature, requested);
    // Dynamic batching: a version with `batching` runs through its batcher (inference/batcher.ts).
    const run = batchers ? batchers.run(lease.session, model, version.name, version.batching, feeds, outputNames) : lease.session.run(feeds, outputNames);
    let raw: Awaited<typeof run>;
    try {
      raw = await run;
    } catch (err) {
      throw new GatewayError('INFERENCE_FAILED', `model "${model}" version "${version.name}" failed: ${String(err)}`, { cause: err });
    }
    // A plain loop: flatMap and .catch each cost more than the rest of this step for one output.
    const outputs: NamedOutput[] = [];
    for (const name of outputNames) {
      const t = raw[name];
      if (t) outputs.push(new LazyOutput(name, t));
    }
    return outputs;
  } finally {
    lease.release();
  }
}

/**
 * JSON `values` are decoded on first read only: a binary response never pays for them. A class
 * rather than an object literal with a getter: V8 builds such a literal through the runtime,
 * ~400 ns a call against ~20 ns for a class instance, once per output of every request.
 */
class LazyOutput implements NamedOutput {
  readonly type: HostTensor['type'];
  readonly shape: HostTensor['dims'];
  readonly data: TensorData;
  private decoded: unknown[] | undefined;

  constructor(
    readonly name: string,
    private readonly tensor: HostTensor,
  ) {
    this.type = tensor.type;
    this.shape = tensor.dims;
    this.data = tensor.data;
  }

  get values(): unknown[] {
    return (this.decoded ??= decodeOutput(this.tensor).values);
  }
}
