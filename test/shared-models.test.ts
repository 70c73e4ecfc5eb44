// Real models written by others (../shared/models), served through the whole gateway and
// checked against their published expected outputs. Runs wherever that folder exists (CI has it).
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { V2_DATATYPE } from '../src/inference/dtypes.js';
import { SHARED_MODELS, startGateway, type RunningGateway } from './support/harness.js';
import { expectClose, loadShared as load, nestedInputs, sharedModel as uri, type Fixture, type Tensors } from './support/shared-models.js';

type V2Out = { name: string; datatype: string; shape: number[]; data: unknown[] };

const v2Inputs = (t: Tensors) =>
  Object.entries(t).map(([name, f]) => ({ name, shape: f.dims, datatype: V2_DATATYPE[f.type], data: f.data }));

describe.runIf(existsSync(SHARED_MODELS))('shared real models', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    const registry = `
models:
  mnist:
    versions:
      "8": { uri: ${uri('mnist-8')}, weight: 1 }
      "7": { uri: ${uri('mnist-7')}, weight: 0 }
  mnist-unsupported:
    versions: { "1": { uri: ${uri('mnist-1-unsupported')}, weight: 1 } }
  topk:
    versions: { "1": { uri: ${uri('onnx-topk')}, weight: 1 } }
  labels:
    versions: { "1": { uri: ${uri('onnx-label-encoder-string-int')}, weight: 1 } }
  titanic:
    versions: { "1": { uri: ${uri('sklearn-titanic-mixed')}, weight: 1 } }
  trees:
    versions: { "1": { uri: ${uri('onnx-tree-ensemble')}, weight: 1 } }
  zipmap:
    versions: { "1": { uri: ${uri('sklearn-rf-zipmap')}, weight: 1 } }
  mlp:
    versions: { "1": { uri: ${uri('mnist-mlp-dynamic')}, weight: 1 } }
  shufflenet:
    versions: { "1": { uri: ${uri('shufflenet-v2-12-int8')}, weight: 1 } }
  regression:
    versions:
      linreg: { uri: ${uri('sklearn-linreg')}, weight: 1 }
      ridge: { uri: ${uri('sklearn-ridge')}, weight: 0 }
`;
    gw = await startGateway({ registry, modelRoots: [SHARED_MODELS] });
  });
  afterAll(() => gw?.close());

  it('mnist-8 returns the expected logits through /predict and V2 infer, and mnist-7 matches it', async () => {
    const cases = load<Array<{ input: Tensors; expected: Tensors }>>('mnist-8/cases.json');
    expect(cases.length).toBe(3);
    for (const c of cases) {
      const want = c.expected.Plus214_Output_0 as Fixture;
      const p = await gw.post<{ outputs: { Plus214_Output_0: number[][] } }>('/predict', { model: 'mnist', inputs: nestedInputs(c.input) });
      expect(p.status).toBe(200);
      expect(p.headers.get('x-model-version')).toBe('8');
      expectClose(p.body.outputs.Plus214_Output_0.flat(), want.data, 'predict');
      for (const version of ['8', '7']) {
        const v = await gw.post<{ outputs: V2Out[] }>(`/v2/models/mnist/versions/${version}/infer`, { inputs: v2Inputs(c.input) });
        expect(v.status).toBe(200);
        expect(v.body.outputs[0]).toMatchObject({ name: 'Plus214_Output_0', datatype: 'FP32', shape: [1, 10] });
        expectClose(v.body.outputs[0]?.data ?? [], want.data, `v2 version ${version}`);
      }
    }
  });

  it('onnx-topk: two inputs and two outputs, int64 included, with the right datatypes', async () => {
    const res = await gw.post<{ outputs: V2Out[] }>('/v2/models/topk/infer', { inputs: v2Inputs(load<Tensors>('onnx-topk/input.json')) });
    expect(res.status).toBe(200);
    const expected = load<Tensors>('onnx-topk/expected.json');
    const byName = Object.fromEntries(res.body.outputs.map((o) => [o.name, o]));
    expect(byName.values).toMatchObject({ datatype: 'FP32', shape: [3, 3] });
    expect(byName.indices).toEqual({ name: 'indices', datatype: 'INT64', shape: [3, 3], data: expected.indices?.data });
    expectClose(byName.values?.data ?? [], expected.values?.data ?? [], 'values');
  });

  it('onnx-label-encoder-string-int: BYTES in, INT64 out', async () => {
    const res = await gw.post<{ outputs: V2Out[] }>('/v2/models/labels/infer', {
      inputs: v2Inputs(load<Tensors>('onnx-label-encoder-string-int/input.json')),
    });
    expect(res.body.outputs).toEqual([{ name: 'Y', datatype: 'INT64', shape: [5], data: [0, 1, 42, 2, 42] }]);
    const meta = await gw.get('/v2/models/labels');
    expect(meta.body).toMatchObject({ inputs: [{ name: 'X', datatype: 'BYTES', shape: [5] }] });
  });

  it('sklearn-titanic-mixed answers a batch of 4 with five mixed-type inputs', async () => {
    const input = load<Tensors>('sklearn-titanic-mixed/input.json');
    const expected = load<Tensors>('sklearn-titanic-mixed/expected.json');
    const res = await gw.post<{ outputs: V2Out[] }>('/v2/models/titanic/infer', { inputs: v2Inputs(input) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const byName = Object.fromEntries(res.body.outputs.map((o) => [o.name, o]));
    expect(byName.label).toEqual({ name: 'label', datatype: 'INT64', shape: [4], data: expected.label?.data });
    expectClose(byName.probabilities?.data ?? [], expected.probabilities?.data ?? [], 'probabilities');
    const p = await gw.post<{ outputs: { label: number[] } }>('/predict', { model: 'titanic', inputs: nestedInputs(input) });
    expect(p.body.outputs.label).toEqual(expected.label?.data);
  });

  it('float64 tree ensemble, dynamic-batch MLP and a quantised CNN', async () => {
    const trees = await gw.post<{ outputs: V2Out[] }>('/v2/models/trees/infer', { inputs: v2Inputs(load<Tensors>('onnx-tree-ensemble/input.json')) });
    expect(trees.body.outputs[0]?.datatype).toBe('FP64');
    expectClose(trees.body.outputs[0]?.data ?? [], load<Tensors>('onnx-tree-ensemble/expected.json').Y?.data ?? [], 'trees');

    const row = Array.from({ length: 784 }, (_, i) => (i % 7) / 7);
    const mlp = await gw.post<{ outputs: { probability: number[][] } }>('/predict', { model: 'mlp', inputs: { input1: [row, row, row] } });
    expect(mlp.body.outputs.probability.map((r) => r.length)).toEqual([10, 10, 10]);
    const mlpMeta = await gw.get('/v2/models/mlp');
    expect(mlpMeta.body).toMatchObject({ inputs: [{ name: 'input1', shape: [-1, 784] }] });

    const shuffle = await gw.post<{ outputs: V2Out[] }>('/v2/models/shufflenet/infer', {
      inputs: v2Inputs(load<Tensors>('shufflenet-v2-12-int8/input.json')),
    });
    const logits = (shuffle.body.outputs[0]?.data ?? []) as number[];
    expect(logits.indexOf(Math.max(...logits))).toBe(556);
  });

  it('sklearn-linreg and sklearn-ridge serve as two versions of one signature', async () => {
    for (const [version, dir] of [['linreg', 'sklearn-linreg'], ['ridge', 'sklearn-ridge']] as const) {
      for (const c of load<Array<{ input: Tensors; expected: Tensors }>>(`${dir}/cases.json`)) {
        const res = await gw.post<{ outputs: V2Out[] }>(`/v2/models/regression/versions/${version}/infer`, { inputs: v2Inputs(c.input) });
        expectClose(res.body.outputs[0]?.data ?? [], c.expected.variable?.data ?? [], `${version}`);
      }
    }
  });

  it('sklearn-rf-zipmap: the map output is skipped, the label is returned', async () => {
    const res = await gw.post<{ outputs: Record<string, unknown> }>('/predict', { model: 'zipmap', inputs: nestedInputs(load<Tensors>('sklearn-rf-zipmap/input.json')) });
    expect(res.status).toBe(200);
    expect(res.body.outputs).toEqual({ output_label: [2] });
  });

  it('mnist-1-unsupported fails to load with a 5xx JSON error for that model only', async () => {
    const input = load<Tensors>('mnist-1-unsupported/input.json');
    const res = await gw.post<{ error: string; code: string }>('/predict', { model: 'mnist-unsupported', inputs: nestedInputs(input) });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: 'model "mnist-unsupported" version "1" cannot be loaded', code: 'MODEL_UNAVAILABLE' });
    expect(res.text).not.toContain(SHARED_MODELS);
    expect((await gw.get('/v2/models/mnist-unsupported/ready')).status).toBe(503);
    const other = await gw.post('/predict', { model: 'mnist', inputs: nestedInputs(input) });
    expect(other.status).toBe(200);
    expect((await gw.get('/v2/models/mnist/ready')).status).toBe(200);
  });
});
