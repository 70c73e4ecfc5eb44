// Request bodies for each scenario: /predict JSON, V2 JSON, and V2 with the binary extension.
import type { Shot } from './load.js';

/** Values as a float32 model sees them, printed as JSON prints them (up to 9 significant digits). */
export function floats(n: number, seed = 1): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(((i * 7919 + seed * 104729) % 1000) / 997);
  return out;
}

export function nestRows(values: readonly number[], rows: number): number[][] {
  const width = values.length / rows;
  return Array.from({ length: rows }, (_, r) => values.slice(r * width, (r + 1) * width));
}

export function predict(model: string, input: string, nested: unknown, headers?: Record<string, string>): Shot {
  return { path: '/predict', body: JSON.stringify({ model, inputs: { [input]: nested } }), ...(headers ? { headers } : {}) };
}

export function v2Json(model: string, input: string, shape: number[], data: readonly number[]): Shot {
  return { path: `/v2/models/${model}/infer`, body: JSON.stringify({ inputs: [{ name: input, shape, datatype: 'FP32', data }] }) };
}

/** Open Inference Protocol binary data extension: JSON header, then raw little-endian bytes. */
export function v2Binary(model: string, input: string, shape: number[], data: readonly number[]): Shot {
  const bytes = Buffer.from(new Float32Array(data).buffer); // x86/ARM hosts are little-endian
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: input, shape, datatype: 'FP32', parameters: { binary_data_size: bytes.length } }] }));
  return {
    path: `/v2/models/${model}/infer`,
    body: Buffer.concat([header, bytes]),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
  };
}
