// Builds small ONNX models in-process so tests and the example registry need no Python and no
// downloads. Only what our tests and examples use: typed graph inputs/outputs, nodes with
// int/float/string/ints attributes, and float/int64 initializers.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** ONNX TensorProto.DataType codes for the element types onnxruntime-node can feed. */
export const ONNX_ELEM = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
} as const;
export type ElemName = keyof typeof ONNX_ELEM;

export interface ValueSpec {
  name: string;
  type: ElemName;
  /** Numbers are fixed dims, strings are symbolic (dynamic) dims. */
  shape: ReadonlyArray<number | string>;
  /** A sequence of such tensors instead of one tensor (a non-tensor value). */
  sequence?: boolean;
}

export type AttrValue = number | string | number[] | { float: number };

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  domain?: string;
  attrs?: Record<string, AttrValue>;
}

export interface InitializerSpec {
  name: string;
  type: 'float32' | 'int64';
  dims: number[];
  values: number[];
}

export interface ModelSpec {
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: InitializerSpec[];
  opset?: number;
  /** Extra opset imports, e.g. { 'ai.onnx.ml': 3 }. */
  extraOpsets?: Record<string, number>;
  irVersion?: number;
  producer?: string;
}

function valueInfo(v: ValueSpec): onnxProto.onnx.IValueInfoProto {
  const tensorType = {
    elemType: ONNX_ELEM[v.type],
    shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
  };
  return { name: v.name, type: v.sequence ? { sequenceType: { elemType: { tensorType } } } : { tensorType } };
}

function attribute(name: string, value: AttrValue): onnxProto.onnx.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') return { name, type: A.INT, i: value };
  if (typeof value === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: A.INTS, ints: value };
  return { name, type: A.FLOAT, f: value.float };
}

function initializer(t: InitializerSpec): onnxProto.onnx.ITensorProto {
  return t.type === 'float32'
    ? { name: t.name, dataType: ONNX_ELEM.float32, dims: t.dims, floatData: t.values }
    : { name: t.name, dataType: ONNX_ELEM.int64, dims: t.dims, int64Data: t.values };
}

export function buildModel(spec: ModelSpec): Uint8Array {
  const opsets = [{ domain: '', version: spec.opset ?? 17 }];
  for (const [domain, version] of Object.entries(spec.extraOpsets ?? {})) opsets.push({ domain, version });
  const model = onnx.ModelProto.create({
    irVersion: spec.irVersion ?? 8,
    producerName: spec.producer ?? 'model-gateway/tools/onnx-builder',
    opsetImport: opsets,
    graph: {
      name: 'graph',
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      initializer: (spec.initializers ?? []).map(initializer),
      node: spec.nodes.map((n, i) => ({
        name: `n${i}_${n.op}`,
        opType: n.op,
        domain: n.domain ?? '',
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** y = x · W + b: a linear model over float32 [batch, inFeatures]. */
export function linearModel(weights: number[][], bias: number[]): Uint8Array {
  const inFeatures = weights.length;
  const outFeatures = bias.length;
  return buildModel({
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', inFeatures] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['batch', outFeatures] }],
    initializers: [
      { name: 'W', type: 'float32', dims: [inFeatures, outFeatures], values: weights.flat() },
      { name: 'b', type: 'float32', dims: [outFeatures], values: bias },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'] },
      { op: 'Add', inputs: ['xw', 'b'], outputs: ['y'] },
    ],
  });
}

/** out = Identity(in) for one element type and shape: round-trips any dtype unchanged. */
export function identityModel(type: ElemName, shape: ReadonlyArray<number | string> = ['n']): Uint8Array {
  return buildModel({
    inputs: [{ name: 'in', type, shape }],
    outputs: [{ name: 'out', type, shape }],
    nodes: [{ op: 'Identity', inputs: ['in'], outputs: ['out'] }],
  });
}
