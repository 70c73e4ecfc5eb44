// @google-cloud/storage is loaded on first use, not at start-up: a gateway whose registry and
// models are all local never pays for it (~6 MiB of memory per process and a tenth of a second
// of start-up on the benchmark machine, docs/benchmarks.md).
import type * as GcsLib from '@google-cloud/storage';

let loading: Promise<typeof GcsLib> | undefined;

/** The library, imported once per process (a failed import is tried again on the next call). */
export function gcsLib(): Promise<typeof GcsLib> {
  return (loading ??= import('@google-cloud/storage').catch((err: unknown) => {
    loading = undefined;
    throw err;
  }));
}
