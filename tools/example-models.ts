// The example models served by config/models.yaml: two versions of a linear "scorer" with
// different outputs, and a "classifier" with two outputs (probabilities and an int64 label).
import { buildModel, linearModel } from './onnx-builder.js';

export function exampleModels(): Record<string, Uint8Array> {
  return {
    'scorer/1/model.onnx': linearModel([[0.5], [1], [1.5], [2]], [0.1]),
    'scorer/2/model.onnx': linearModel([[0.4], [1.1], [1.4], [2.2]], [0]),
    'classifier/1/model.onnx': buildModel({
      inputs: [{ name: 'x', type: 'float32', shape: ['batch', 4] }],
      outputs: [
        { name: 'probabilities', type: 'float32', shape: ['batch', 3] },
        { name: 'label', type: 'int64', shape: ['batch'] },
      ],
      initializers: [
        { name: 'W', type: 'float32', dims: [4, 3], values: [1, 0, -1, 0.5, 1, 0, -1, 0.5, 1, 0, -0.5, 1] },
        { name: 'b', type: 'float32', dims: [3], values: [0, 0.1, -0.1] },
      ],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'] },
        { op: 'Add', inputs: ['xw', 'b'], outputs: ['logits'] },
        { op: 'Softmax', inputs: ['logits'], outputs: ['probabilities'], attrs: { axis: -1 } },
        { op: 'ArgMax', inputs: ['logits'], outputs: ['label'], attrs: { axis: 1, keepdims: 0 } },
      ],
    }),
  };
}
