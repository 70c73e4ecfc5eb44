// A model slow enough to measure queueing against: y = x · W, W 1024×1024 (a 1024-wide layer).
import { linearModel } from '../../../tools/onnx-builder.js';

export const WIDTH = 1024;

export function heavyModel(): Uint8Array {
  const row = Array<number>(WIDTH).fill(0.001);
  return linearModel(Array.from({ length: WIDTH }, () => row), Array<number>(WIDTH).fill(0));
}

/** `rows` rows of ones: each run costs rows × 1M multiply-adds. */
export function heavyInput(rows: number) {
  return { x: { type: 'float32' as const, dims: [rows, WIDTH], data: new Float32Array(rows * WIDTH).fill(1) } };
}
