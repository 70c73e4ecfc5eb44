import { describe, expect, it } from 'vitest';
import { outputDifference, type ComparableTensor } from '../../src/inference/compare.js';

const t = (values: unknown[], type: ComparableTensor['type'] = 'float32', shape = [values.length]): ComparableTensor => ({ name: 'y', type, shape, values });

describe('outputDifference (shadow comparison)', () => {
  it('takes floats within 1e-5 relative, and no further', () => {
    expect(outputDifference([t([100, -2, 0])], [t([100.0009, -2.00001, 0])])).toBeUndefined();
    expect(outputDifference([t([100])], [t([100.0011])])).toBe('output "y" differs first at element 0');
    expect(outputDifference([t([0])], [t([1e-12])])).toBeDefined(); // relative to zero: any difference counts
    expect(outputDifference([t([Number.NaN, 'Infinity'])], [t([Number.NaN, 'Infinity'])])).toBeUndefined();
    expect(outputDifference([t([1, 2, 3])], [t([1, 2, 4])])).toBe('output "y" differs first at element 2');
  });

  it('compares integers, strings and booleans exactly', () => {
    expect(outputDifference([t([1, 2], 'int64')], [t([1, 2], 'int64')])).toBeUndefined();
    expect(outputDifference([t(['9007199254740993'], 'int64')], [t(['9007199254740992'], 'int64')])).toBeDefined();
    expect(outputDifference([t([7], 'int32')], [t([7.000001], 'int32')])).toBeDefined();
    expect(outputDifference([t(['a'], 'string')], [t(['a '], 'string')])).toBeDefined();
  });

  it('reports a missing output, another type or another shape', () => {
    expect(outputDifference([t([1])], [])).toBe('output "y" is missing');
    expect(outputDifference([t([1])], [t([1], 'float64')])).toBe('output "y" is float64, expected float32');
    expect(outputDifference([t([1, 2], 'float32', [2])], [t([1, 2], 'float32', [1, 2])])).toBe('output "y" has shape [1, 2], expected [2]');
  });
});
