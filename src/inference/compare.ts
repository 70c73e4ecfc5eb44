// Output comparison for shadow traffic: floats within a relative tolerance, everything else
// exactly. NaN equals NaN here: two models that both answer NaN agree.
import type { OrtType } from './dtypes.js';

export interface ComparableTensor {
  readonly name: string;
  readonly type: OrtType;
  readonly shape: readonly number[];
  readonly values: readonly unknown[];
}

const FLOATS: ReadonlySet<OrtType> = new Set<OrtType>(['float16', 'float32', 'float64']);

function closeEnough(a: number, b: number, rtol: number): boolean {
  if (a === b) return true;
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return Math.abs(a - b) <= rtol * Math.max(Math.abs(a), Math.abs(b));
}

/** Undefined when `actual` matches `expected`; else what differs first, for the log. */
export function outputDifference(expected: readonly ComparableTensor[], actual: readonly ComparableTensor[], rtol = 1e-5): string | undefined {
  for (const want of expected) {
    const got = actual.find((t) => t.name === want.name);
    if (!got) return `output "${want.name}" is missing`;
    if (got.type !== want.type) return `output "${want.name}" is ${got.type}, expected ${want.type}`;
    if (got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i])) {
      return `output "${want.name}" has shape [${got.shape.join(', ')}], expected [${want.shape.join(', ')}]`;
    }
    const float = FLOATS.has(want.type);
    for (let i = 0; i < want.values.length; i++) {
      const a = want.values[i];
      const b = got.values[i];
      const same = float && typeof a === 'number' && typeof b === 'number' ? closeEnough(a, b, rtol) : a === b;
      // Positions only: outputs can echo inputs, and logs never carry tensor values.
      if (!same) return `output "${want.name}" differs first at element ${i}`;
    }
  }
  return undefined;
}
