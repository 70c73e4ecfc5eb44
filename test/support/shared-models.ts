// The real models in ../shared/models (see its README): their files and published test cases,
// read the same way by every test that uses them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { nest } from '../../src/inference/codec.js';
import type { OrtType } from '../../src/inference/dtypes.js';
import { SHARED_MODELS } from './harness.js';

/** One tensor of a published case: flat, row-major `data` of `dims`. */
export interface Fixture {
  type: OrtType;
  dims: number[];
  data: unknown[];
}
export type Tensors = Record<string, Fixture>;

/** A JSON file under ../shared/models (input.json, expected.json, cases.json). */
export const loadShared = <T>(rel: string): T => JSON.parse(readFileSync(path.join(SHARED_MODELS, rel), 'utf8')) as T;

/** A case's tensors as /predict takes them: each one nested to its dims. */
export const nestedInputs = (t: Tensors): Record<string, unknown> => Object.fromEntries(Object.entries(t).map(([name, f]) => [name, nest(f.data, f.dims)]));

/** A shared model's ONNX file. */
export const sharedModel = (name: string): string => path.join(SHARED_MODELS, name, 'model.onnx');

/**
 * Element by element, nested arrays flattened: numbers within 1e-4 relative (the tolerance the
 * models' README gives), anything else equal.
 */
export function expectClose(actual: unknown, expected: unknown, what: string): void {
  const a = Array.isArray(actual) ? (actual as unknown[]).flat(Infinity) : [actual];
  const e = Array.isArray(expected) ? (expected as unknown[]).flat(Infinity) : [expected];
  expect(a.length, what).toBe(e.length);
  e.forEach((x, i) => {
    const y = a[i];
    if (typeof x === 'number' && typeof y === 'number') expect(Math.abs(y - x), `${what}[${i}]: ${y} vs ${x}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(x)));
    else expect(y, `${what}[${i}]`).toEqual(x);
  });
}
