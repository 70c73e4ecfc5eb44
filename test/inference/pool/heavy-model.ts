// A model slow enough to measure queueing against: y = x · W, W 1024×1024 (a 1024-wide layer).
import { afterAll, beforeAll } from 'vitest';
import { linearModel } from '../../../tools/onnx-builder.js';
import { makeTempDir, writeFile } from '../../support/harness.js';

export const WIDTH = 1024;

export function heavyModel(): Uint8Array {
  const row = Array<number>(WIDTH).fill(0.001);
  return linearModel(Array.from({ length: WIDTH }, () => row), Array<number>(WIDTH).fill(0));
}

/** `rows` rows of ones: each run costs rows × 1M multiply-adds. */
export function heavyInput(rows: number) {
  return { x: { type: 'float32' as const, dims: [rows, WIDTH], data: new Float32Array(rows * WIDTH).fill(1) } };
}

/**
 * Writes the heavy model and a light y = 2x + bias one into a temp folder for the file's tests
 * (registered as beforeAll/afterAll); the paths are filled in before the first test.
 */
export function modelFiles(lightBias: number): { heavy: string; light: string } {
  const temp = makeTempDir();
  const files = { heavy: '', light: '' };
  beforeAll(() => {
    files.heavy = writeFile(temp.dir, 'heavy.onnx', heavyModel());
    files.light = writeFile(temp.dir, 'light.onnx', linearModel([[2]], [lightBias]));
  });
  afterAll(() => temp.cleanup());
  return files;
}
