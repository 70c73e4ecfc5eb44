// Input limits, checked while a request body is turned into tensors and before anything of the
// declared size is allocated. The body limit (MAX_BODY_BYTES) already bounds the JSON; these bound
// what the JSON may declare or imply: a V2 shape, the nesting depth, one huge string.

export interface InputLimits {
  /** Dimensions of one tensor, and so the nesting depth of its JSON arrays. */
  readonly maxRank: number;
  /** Elements of one input tensor (the product of its shape). */
  readonly maxElementsPerInput: number;
  /** Elements of all input tensors of one request together. */
  readonly maxElementsPerRequest: number;
  /** Length of one BYTES (string) element, in UTF-16 code units as JavaScript counts them. */
  readonly maxStringLength: number;
}

/**
 * ONNX sets no rank limit; onnxruntime's CUDA kernels stop at 8 and NumPy 1.x at 32
 * (NPY_MAXDIMS), so 32 refuses nothing a real model takes. 16 Mi elements leave room for large
 * batches (an ImageNet image is 150,528 floats) while a 16 MiB JSON body holds at most ~8 Mi.
 */
export const DEFAULT_INPUT_LIMITS: InputLimits = Object.freeze({
  maxRank: 32,
  maxElementsPerInput: 16 * 2 ** 20,
  maxElementsPerRequest: 16 * 2 ** 20,
  maxStringLength: 2 ** 20,
});
