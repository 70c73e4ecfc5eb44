// Small models the HTTP tests serve, built in-process.
import { buildModel, linearModel } from '../../tools/onnx-builder.js';

/** Two versions of one signature with different outputs: y = 2x (v1) and y = 3x (v2). */
export const doubler = linearModel([[2]], [0]);
export const tripler = linearModel([[3]], [0]);

/** Fixed shape [2, 3] float32 input, summed along axis 1: checks fixed dims. */
export const fixedShape = buildModel({
  inputs: [{ name: 'grid', type: 'float32', shape: [2, 3] }],
  outputs: [{ name: 'sum', type: 'float32', shape: [2, 1] }],
  initializers: [{ name: 'axes', type: 'int64', dims: [1], values: [1] }],
  nodes: [{ op: 'ReduceSum', inputs: ['grid', 'axes'], outputs: ['sum'], attrs: { keepdims: 1 } }],
});

/** Reshapes [n] to [2, -1]: runs for even n, fails inside onnxruntime for odd n. */
export const failsOnOdd = buildModel({
  inputs: [{ name: 'x', type: 'float32', shape: ['n'] }],
  outputs: [{ name: 'y', type: 'float32', shape: [2, 'm'] }],
  initializers: [{ name: 'shape', type: 'int64', dims: [2], values: [2, -1] }],
  nodes: [{ op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] }],
});

/** One tensor output and one sequence output, which onnxruntime-node cannot return. */
export const withSequenceOutput = buildModel({
  inputs: [{ name: 'x', type: 'float32', shape: ['n'] }],
  outputs: [
    { name: 'y', type: 'float32', shape: ['n'] },
    { name: 'seq', type: 'float32', shape: ['n'], sequence: true },
  ],
  nodes: [
    { op: 'Identity', inputs: ['x'], outputs: ['y'] },
    { op: 'SequenceConstruct', inputs: ['x', 'x'], outputs: ['seq'] },
  ],
});

/** Not an ONNX model at all: every load fails. */
export const garbage = new TextEncoder().encode('this is not an onnx model');

/** y = x for any [n] float32 input: accepts every input `failsOnOdd` takes, and never fails. */
export const echo = buildModel({
  inputs: [{ name: 'x', type: 'float32', shape: ['n'] }],
  outputs: [{ name: 'y', type: 'float32', shape: ['n'] }],
  nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
});
