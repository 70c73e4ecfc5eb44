// A model whose run time the caller chooses: input `shape` = [rows, 1024] (int64) builds a
// [rows, 1024] tensor of ones, multiplies it LAYERS times by a 1024 × 1024 matrix of 1/1024
// (which keeps every value at 1), and sums it: output `sum` = [[rows × 1024]]. Each row costs
// LAYERS × 2 MFLOP, so a tiny request body buys tens or hundreds of milliseconds of real work.
import { buildModel } from '../../tools/onnx-builder.js';

const WIDTH = 1024;
const LAYERS = 4;

export const slowModel = buildModel({
  inputs: [{ name: 'shape', type: 'int64', shape: [2] }],
  outputs: [{ name: 'sum', type: 'float32', shape: [1, 1] }],
  initializers: [
    { name: 'W', type: 'float32', dims: [WIDTH, WIDTH], values: new Array<number>(WIDTH * WIDTH).fill(1 / WIDTH) },
    { name: 'one', type: 'float32', dims: [1], values: [1] },
    { name: 'axes', type: 'int64', dims: [2], values: [0, 1] },
  ],
  nodes: [
    // ConstantOfShape fills with 0 (the builder has no tensor attributes); + 1 makes it ones.
    { op: 'ConstantOfShape', inputs: ['shape'], outputs: ['zeros'] },
    { op: 'Add', inputs: ['zeros', 'one'], outputs: ['h0'] },
    ...Array.from({ length: LAYERS }, (_, i) => ({ op: 'MatMul', inputs: [`h${i}`, 'W'], outputs: [`h${i + 1}`] })),
    { op: 'ReduceSum', inputs: [`h${LAYERS}`, 'axes'], outputs: ['sum'], attrs: { keepdims: 1 } },
  ],
});

/** The /predict body that makes the slow model work on `rows` rows; it answers [[rows * 1024]]. */
export function slowBody(model: string, rows: number): string {
  return JSON.stringify({ model, inputs: { shape: [rows, WIDTH] } });
}

export const SLOW_WIDTH = WIDTH;
