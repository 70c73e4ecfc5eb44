// Every element type crosses the thread boundary intact, and numeric buffers move (transferred,
// not copied) to the worker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packElements, type OrtType, type TensorData } from '../../../src/inference/dtypes.js';
import { InferencePool } from '../../../src/inference/pool/pool.js';
import { createOrtSessionFactory, type ModelSession } from '../../../src/inference/session.js';
import { identityModel } from '../../../tools/onnx-builder.js';
import { makeTempDir, writeFile } from '../../support/harness.js';

const SAMPLES: Record<OrtType, unknown[]> = {
  float32: [1.5, -2.25, 3.4028234663852886e38, 'NaN', '-Infinity'],
  float64: [Math.PI, -1e300, 5e-324, 'Infinity'],
  float16: [0.5, -65504, 'NaN', 1],
  int8: [-128, 127, 0, 5],
  int16: [-32768, 32767, 7],
  int32: [-(2 ** 31), 2 ** 31 - 1, 42],
  int64: ['-9223372036854775808', '9223372036854775807', 3],
  uint8: [0, 255, 17],
  uint16: [0, 65535, 9],
  uint32: [0, 2 ** 32 - 1, 11],
  uint64: ['18446744073709551615', 0, 12],
  bool: [true, false, true],
  string: ['', 'héllo', 'tab\there "quoted"', 'x'.repeat(1000)],
};

const pool = new InferencePool({ threads: 2, inline: { enabled: false }, inlineFactory: createOrtSessionFactory() });
const temp = makeTempDir();
const sessions = new Map<OrtType, ModelSession>();

beforeAll(async () => {
  for (const type of Object.keys(SAMPLES) as OrtType[]) {
    sessions.set(type, await pool.create(writeFile(temp.dir, `${type}.onnx`, identityModel(type))));
  }
});
afterAll(async () => {
  for (const s of sessions.values()) await s.release();
  await pool.close();
  temp.cleanup();
});

function copyOf(data: TensorData): unknown[] {
  return Array.isArray(data) ? [...data] : Array.from(data as ArrayLike<unknown>);
}

describe('tensors through an inference worker', () => {
  it.each(Object.keys(SAMPLES) as OrtType[])('round-trips %s unchanged', async (type) => {
    const values = SAMPLES[type];
    const data = packElements(type, values);
    const expected = copyOf(data);
    const session = sessions.get(type) as ModelSession;
    const out = await session.run({ in: { type, dims: [values.length], data } }, ['out']);
    const t = out.out;
    expect(t?.type).toBe(type);
    expect(t?.dims).toEqual([values.length]);
    const got = copyOf(t?.data as TensorData);
    // NaN !== NaN: compare float bit patterns through Object.is.
    expect(got.length).toBe(expected.length);
    got.forEach((v, i) => expect(Object.is(v, expected[i]), `${type}[${i}]: ${String(v)} vs ${String(expected[i])}`).toBe(true));
    // A whole-buffer numeric input was moved to the worker, not copied: it is detached here.
    if (!Array.isArray(data)) expect(data.byteLength).toBe(0);
  });

  it('copies a view into a larger buffer instead of detaching the rest of it', async () => {
    const backing = new Float32Array([9, 1, 2, 3, 9]);
    const view = backing.subarray(1, 4);
    const out = await (sessions.get('float32') as ModelSession).run({ in: { type: 'float32', dims: [3], data: view } }, ['out']);
    expect(Array.from(out.out?.data as Float32Array)).toEqual([1, 2, 3]);
    expect(Array.from(backing)).toEqual([9, 1, 2, 3, 9]);
  });

  it('copies borrowed data (a raw request tensor a fallback or shadow reuses) instead of detaching it', async () => {
    const data = Float32Array.of(4, 5, 6);
    const session = sessions.get('float32') as ModelSession;
    const first = await session.run({ in: { type: 'float32', dims: [3], data, borrowed: true } }, ['out']);
    expect(data.byteLength).toBe(12);
    const again = await session.run({ in: { type: 'float32', dims: [3], data, borrowed: true } }, ['out']);
    expect([Array.from(first.out?.data as Float32Array), Array.from(again.out?.data as Float32Array)]).toEqual([
      [4, 5, 6],
      [4, 5, 6],
    ]);
  });

  it('spreads versions over the threads: one copy each, on the least used thread', () => {
    const placed = [...sessions.values()].map((s) => (s as unknown as { workerIndex: number }).workerIndex);
    expect(placed.filter((i) => i === 0).length).toBe(7);
    expect(placed.filter((i) => i === 1).length).toBe(6);
  });
});
