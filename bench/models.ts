// The benchmark's models, built in-process (no downloads): MLPs of the sizes the issue names,
// a cheap model with a shufflenet-sized input, and a 16 MiB layer for cache cycling.
import { copyFileSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildModel, type InitializerSpec, type NodeSpec } from '../tools/onnx-builder.js';

/** Deterministic small weights, so outputs are finite and comparable across servers. */
function weights(n: number, seed: number): number[] {
  const out = new Array<number>(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648 - 0.5) * 0.1;
  }
  return out;
}

/** x [batch, widths[0]] → dense layers with ReLU between → y [batch, widths.at(-1)]. */
export function mlp(widths: readonly number[]): Uint8Array {
  const nodes: NodeSpec[] = [];
  const initializers: InitializerSpec[] = [];
  let input = 'x';
  for (let l = 0; l + 1 < widths.length; l++) {
    const [a, b] = [widths[l] as number, widths[l + 1] as number];
    initializers.push({ name: `W${l}`, type: 'float32', dims: [a, b], values: weights(a * b, l + 1) });
    initializers.push({ name: `b${l}`, type: 'float32', dims: [b], values: weights(b, l + 100) });
    const last = l + 2 === widths.length;
    nodes.push({ op: 'MatMul', inputs: [input, `W${l}`], outputs: [`m${l}`] });
    nodes.push({ op: 'Add', inputs: [`m${l}`, `b${l}`], outputs: [last ? 'y' : `a${l}`] });
    if (!last) nodes.push({ op: 'Relu', inputs: [`a${l}`], outputs: [`h${l}`] });
    input = `h${l}`;
  }
  return buildModel({
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', widths[0] as number] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['batch', widths.at(-1) as number] }],
    initializers,
    nodes,
  });
}

/** [1, 3, 224, 224] (150,528 floats, shufflenet's input) → per-channel mean: the cost is the I/O. */
export function bigInput(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type: 'float32', shape: [1, 3, 224, 224] }],
    outputs: [{ name: 'y', type: 'float32', shape: [1, 3, 1, 1] }],
    nodes: [{ op: 'GlobalAveragePool', inputs: ['x'], outputs: ['y'] }],
  });
}

export interface BenchModels {
  readonly tiny: string;
  readonly mlp784: string;
  readonly heavy: string;
  readonly big: string;
  /** Same 16 MiB layer under 20 names: 20 versions for the cache to cycle through. */
  readonly cycle: string[];
  readonly cycleBytes: number;
  readonly mnist: string | undefined;
}

/** Built once per machine and reused: a 16 MiB model takes seconds and a large heap to build. */
export const MODELS_DIR = path.join(os.tmpdir(), 'model-gateway-bench-models-v1');

export function buildBenchModels(dir: string, sharedModels: string): BenchModels {
  mkdirSync(dir, { recursive: true });
  const file = (name: string, bytes: () => Uint8Array): string => {
    const p = path.join(dir, name);
    if (!existsSync(p)) writeFileSync(p, bytes());
    return p;
  };
  const layer = file('cycle-0.onnx', () => mlp([2048, 2048]));
  const cycle = Array.from({ length: 20 }, (_, i) => {
    const p = path.join(dir, `cycle-${i}.onnx`);
    if (!existsSync(p)) copyFileSync(layer, p);
    return p;
  });
  const mnist = path.join(sharedModels, 'mnist-8', 'model.onnx');
  return {
    tiny: file('tiny.onnx', () => mlp([4, 8, 3])),
    mlp784: file('mlp784.onnx', () => mlp([784, 784, 10])),
    heavy: file('heavy.onnx', () => mlp([1024, 1024, 1024, 1024, 1024, 10])),
    big: file('big.onnx', bigInput),
    cycle,
    cycleBytes: statSync(layer).size,
    mnist: existsSync(mnist) ? mnist : undefined,
  };
}
