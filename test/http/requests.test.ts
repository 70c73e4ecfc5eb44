import { describe, expect, it } from 'vitest';
import { parsePredict, parseV2Infer } from '../../src/http/requests.js';
import type { InputLimits } from '../../src/inference/limits.js';

const small: InputLimits = Object.freeze({ maxRank: 3, maxElementsPerInput: 10, maxElementsPerRequest: 15, maxStringLength: 4 });

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected a refusal');
}

describe('request limits', () => {
  it('refuses /predict inputs that together hold more elements than a request may', () => {
    const ok = parsePredict({ model: 'm', inputs: { a: Array(10).fill(1), b: Array(5).fill(1) } }, small);
    expect([...ok.inputs.values()].map((t) => t.values.length)).toEqual([10, 5]);
    const err = refusal(() => parsePredict({ model: 'm', inputs: { a: Array(10).fill(1), b: Array(6).fill(1) } }, small));
    expect(err).toMatchObject({ code: 'LIMIT_EXCEEDED', message: 'the inputs of this request hold more than 15 elements together (at least 16); split it into smaller requests' });
  });

  it('refuses a V2 input by its declared shape before looking at its data', () => {
    const rank = refusal(() => parseV2Infer({ inputs: [{ name: 'x', shape: [1, 1, 1, 1], datatype: 'FP32', data: 'not even an array' }] }, small));
    expect(rank).toMatchObject({ code: 'INVALID_INPUT', message: 'input "x": shape has 4 dimensions; a tensor has at most 3' });
    const size = refusal(() => parseV2Infer({ inputs: [{ name: 'x', shape: [11], datatype: 'FP32', data: 'not even an array' }] }, small));
    expect(size).toMatchObject({ code: 'LIMIT_EXCEEDED', message: 'input "x": shape [11] has 11 elements; at most 10 are accepted per input' });
    const total = refusal(() =>
      parseV2Infer(
        {
          inputs: [
            { name: 'x', shape: [2, 5], datatype: 'FP32', data: 'unread' },
            { name: 'y', shape: [6], datatype: 'FP32', data: 'unread' },
          ],
        },
        small,
      ),
    );
    expect(total.code).toBe('LIMIT_EXCEEDED');
  });

  it('takes V2 data flat or nested, and refuses data that does not fill the shape', () => {
    const flat = parseV2Infer({ inputs: [{ name: 'x', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] }] }, small);
    const nested = parseV2Infer({ inputs: [{ name: 'x', shape: [2, 2], datatype: 'FP32', data: [[1, 2], [3, 4]] }] }, small);
    expect(flat.inputs.get('x')).toEqual({ shape: [2, 2], values: Float64Array.of(1, 2, 3, 4), datatype: 'FP32' });
    expect(nested.inputs.get('x')).toEqual(flat.inputs.get('x'));
    expect(refusal(() => parseV2Infer({ inputs: [{ name: 'x', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3] }] }, small)).message).toBe(
      'input "x": shape [2, 2] needs 4 values, got 3',
    );
    expect(refusal(() => parseV2Infer({ inputs: [{ name: 's', shape: [1], datatype: 'BYTES', data: ['abcde'] }] }, small)).code).toBe('LIMIT_EXCEEDED');
  });
});
