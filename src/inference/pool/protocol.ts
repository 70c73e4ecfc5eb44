// Messages between the main thread and an inference worker. Tensors travel as plain data (type,
// dims, typed array); numeric buffers are transferred, never copied, in both directions.
import type { OrtType, TensorData } from '../dtypes.js';
import type { HostTensor, Signature } from '../session.js';

export type WireTensor = readonly [name: string, type: OrtType, dims: readonly number[], data: TensorData];

export type ToWorker =
  | { readonly op: 'load'; readonly id: number; readonly sid: number; readonly path: string; readonly threads: number }
  | { readonly op: 'run'; readonly id: number; readonly sid: number; readonly feeds: readonly WireTensor[]; readonly outputs: readonly string[] }
  | { readonly op: 'release'; readonly id: number; readonly sid: number }
  /** Test-only (accepted when the worker was started with faults enabled): the next run crashes or hangs. */
  | { readonly op: 'fault'; readonly id: number; readonly kind: 'crash' | 'hang' };

export type FromWorker =
  | { readonly id: number; readonly ok: true; readonly signature?: Signature; readonly outputs?: readonly WireTensor[]; readonly us?: number }
  | { readonly id: number; readonly ok: false; readonly error: string };

export interface WorkerData {
  readonly faults: boolean;
  /** Added to the thread's nice value at start (priority.ts); 0 leaves it. */
  readonly nice: number;
}

export function toWire(feeds: Readonly<Record<string, HostTensor>>): { wire: WireTensor[]; transfer: ArrayBuffer[] } {
  const wire: WireTensor[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const name in feeds) {
    const t = feeds[name] as HostTensor;
    wire.push([name, t.type, t.dims, transferable(t.data, transfer, t.borrowed === true)]);
  }
  return { wire, transfer };
}

/**
 * The data to send, adding its buffer to `transfer` when it may move: a typed array that owns
 * its whole buffer moves; a view into a larger (shared, pooled) buffer is copied first, so the
 * sender's other data is never detached under it; so is borrowed data (the caller reuses it).
 * Strings are structured-cloned.
 */
export function transferable(data: TensorData, transfer: ArrayBuffer[], borrowed = false): TensorData {
  if (Array.isArray(data)) return data;
  const buffer = data.buffer;
  if (!borrowed && buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength && !transfer.includes(buffer)) {
    transfer.push(buffer);
    return data;
  }
  const copy = data.slice() as TensorData & { buffer: ArrayBuffer };
  transfer.push(copy.buffer);
  return copy;
}
