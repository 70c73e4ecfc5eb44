// Dynamic batching and the V2 binary data extension with real models written by others
// (../shared/models): callers' rows stacked into one run must come back as the published expected
// rows of each caller, strings and mixed dtypes included; a 150,528-float input sent as raw bytes
// must classify as its published answer. Runs wherever that folder exists (CI has it).
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED_MODELS, sampleValue, startGateway, type RunningGateway } from './support/harness.js';
import { expectClose, loadShared, nestedInputs, sharedModel as uri, type Fixture, type Tensors } from './support/shared-models.js';

const load = (rel: string): Tensors => loadShared<Tensors>(rel);

/** Rows [from, to) of every tensor in `t` (each tensor's first dimension is the batch). */
function rows(t: Tensors, from: number, to: number): Tensors {
  return Object.fromEntries(
    Object.entries(t).map(([name, f]) => {
      const per = f.dims.slice(1).reduce((a, b) => a * b, 1);
      return [name, { type: f.type, dims: [to - from, ...f.dims.slice(1)], data: f.data.slice(from * per, to * per) }];
    }),
  );
}

describe.runIf(existsSync(SHARED_MODELS))('shared real models: batching and binary tensors', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    // A long maxDelayMs (1 s) so that callers sent together share a run even on a loaded CI machine.
    const registry = `
models:
  mlp:
    versions: { "1": { uri: ${uri('mnist-mlp-dynamic')}, weight: 1, batching: { maxBatchSize: 16, maxDelayMs: 1000 } } }
  titanic:
    versions: { "1": { uri: ${uri('sklearn-titanic-mixed')}, weight: 1, batching: { maxBatchSize: 16, maxDelayMs: 1000 } } }
  shufflenet:
    versions: { "1": { uri: ${uri('shufflenet-v2-12-int8')}, weight: 1 } }
`;
    gw = await startGateway({ registry, modelRoots: [SHARED_MODELS] });
  });
  afterAll(() => gw?.close());

  const runs = async (model: string) => {
    const text = (await gw.get('/metrics')).text;
    return {
      runs: sampleValue(text, 'gateway_batch_size_count', { model, version: '1' }) ?? 0,
      rows: sampleValue(text, 'gateway_batch_size_sum', { model, version: '1' }) ?? 0,
    };
  };

  it('mnist-mlp-dynamic: callers of 1 and 2 rows share a run and each gets its published rows', async () => {
    const input = load('mnist-mlp-dynamic/input.json');
    const expected = load('mnist-mlp-dynamic/expected.json').probability as Fixture;
    const rowsOut = (from: number, to: number) => expected.data.slice(from * 10, to * 10);
    const before = await runs('mlp');
    const [a, b] = await Promise.all([
      gw.post<{ outputs: { probability: number[][] } }>('/predict', { model: 'mlp', inputs: nestedInputs(rows(input, 0, 1)) }),
      gw.post<{ outputs: { probability: number[][] } }>('/predict', { model: 'mlp', inputs: nestedInputs(rows(input, 1, 3)) }),
    ]);
    expect([a.status, b.status], JSON.stringify([a.body, b.body])).toEqual([200, 200]);
    expectClose(a.body.outputs.probability, rowsOut(0, 1), 'caller of row 0');
    expectClose(b.body.outputs.probability, rowsOut(1, 3), 'caller of rows 1-2');
    const after = await runs('mlp');
    expect(after.rows - before.rows).toBe(3);
    expect(after.runs - before.runs, 'the two callers shared one run').toBe(1);
  });

  it('sklearn-titanic-mixed: string and int64 inputs batched across callers, labels and probabilities per caller', async () => {
    const input = load('sklearn-titanic-mixed/input.json');
    const expected = load('sklearn-titanic-mixed/expected.json');
    const before = await runs('titanic');
    const slices: Array<[number, number]> = [[0, 1], [1, 3], [3, 4]];
    const answers = await Promise.all(
      slices.map(([from, to]) =>
        gw.post<{ outputs: { label: number[]; probabilities: number[][] } }>('/predict', { model: 'titanic', inputs: nestedInputs(rows(input, from, to)) }),
      ),
    );
    slices.forEach(([from, to], i) => {
      const res = answers[i];
      expect(res?.status, JSON.stringify(res?.body)).toBe(200);
      expect(res?.body.outputs.label).toEqual(expected.label?.data.slice(from, to));
      expectClose(res?.body.outputs.probabilities, expected.probabilities?.data.slice(from * 2, to * 2), `probabilities of rows ${from}-${to - 1}`);
    });
    const after = await runs('titanic');
    expect(after.rows - before.rows).toBe(4);
    expect(after.runs - before.runs, 'the three callers shared one run').toBe(1);
  });

  it('shufflenet-v2-12-int8: 150,528 floats as raw bytes classify as 556, with the same logits as JSON', async () => {
    const input = load('shufflenet-v2-12-int8/input.json').input as Fixture;
    const floats = Float32Array.from(input.data as number[]);
    const header = new TextEncoder().encode(
      JSON.stringify({
        inputs: [{ name: 'input', shape: input.dims, datatype: 'FP32', parameters: { binary_data_size: floats.byteLength } }],
        outputs: [{ name: 'output', parameters: { binary_data: true } }],
      }),
    );
    const body = new Uint8Array(header.length + floats.byteLength);
    body.set(header, 0);
    // The wire is little-endian; so is every machine this runs on, so the array's own bytes are it.
    body.set(new Uint8Array(floats.buffer), header.length);
    const res = await fetch(`${gw.url}/v2/models/shufflenet/infer`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(res.status, new TextDecoder().decode(bytes.subarray(0, 300))).toBe(200);
    const headLength = Number(res.headers.get('inference-header-content-length'));
    const head = JSON.parse(new TextDecoder().decode(bytes.subarray(0, headLength))) as { outputs: Array<{ name: string; shape: number[]; parameters: { binary_data_size: number } }> };
    expect(head.outputs[0]).toMatchObject({ name: 'output', shape: [1, 1000], parameters: { binary_data_size: 4000 } });
    expect(bytes.length).toBe(headLength + 4000);
    const logits = Array.from(new Float32Array(bytes.slice(headLength).buffer));
    expect(logits.indexOf(Math.max(...logits))).toBe(556);

    const json = await gw.post<{ outputs: Array<{ data: number[] }> }>('/v2/models/shufflenet/infer', {
      inputs: [{ name: 'input', shape: input.dims, datatype: 'FP32', data: input.data }],
    });
    expect(json.status).toBe(200);
    // JSON writes each float32 as its shortest decimal; read back as float32, it is the same value.
    expect(logits).toEqual(json.body.outputs[0]?.data.map(Math.fround));
  });
});
