// One run of one version: lease a session, check and encode the inputs against its signature,
// run, decode. Shared by primary requests and shadow copies so both see the same checks.
import type { ModelCache } from '../cache/model-cache.js';
import { GatewayError } from '../errors/catalogue.js';
import { decodeOutput, encodeInputs, selectOutputs, type DecodedTensor, type InputTensor } from '../inference/codec.js';
import type { VersionEntry } from '../registry/revision.js';

export interface NamedOutput extends DecodedTensor {
  readonly name: string;
}

export async function runVersion(
  cache: ModelCache,
  model: string,
  version: VersionEntry,
  inputs: ReadonlyMap<string, InputTensor>,
  requested: readonly string[] | undefined,
  signal?: AbortSignal,
): Promise<NamedOutput[]> {
  const lease = await cache.acquire(model, version);
  try {
    // The caller may have given up while the model loaded: do not queue a run nobody will read.
    if (signal?.aborted === true) throw new GatewayError('TIMEOUT', 'the caller cancelled or its deadline passed before the model ran');
    const feeds = encodeInputs(lease.session.signature, inputs);
    const outputNames = selectOutputs(lease.session.signature, requested);
    const raw = await lease.session.run(feeds, outputNames).catch((err: unknown) => {
      throw new GatewayError('INFERENCE_FAILED', `model "${model}" version "${version.name}" failed: ${String(err)}`, { cause: err });
    });
    return outputNames.flatMap((name) => {
      const t = raw[name];
      return t ? [{ name, ...decodeOutput(t) }] : [];
    });
  } finally {
    lease.release();
  }
}
