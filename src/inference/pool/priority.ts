// Inference threads run at a lower OS scheduling priority than the event loop, so a process's
// event loop (HTTP, JSON, routing, inline tiny models) gets a core whenever it has work, even
// while heavy models keep every core busy. Linux applies nice values per thread: a worker
// thread finds its own thread id through /proc/thread-self and renices only itself; threads it
// creates afterwards (onnxruntime's intra-op pool) inherit the value.
import { readlinkSync } from 'node:fs';
import os from 'node:os';

/** This thread's kernel id, or undefined where /proc/thread-self does not exist (not Linux). */
export function ownThreadId(): number | undefined {
  try {
    // "<pid>/task/<tid>"
    const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Raises this thread's nice value by `increment` (0 = leave it); returns the nice value it now
 * has, or undefined where threads cannot be reniced one by one. Lowering priority needs no
 * privilege; it never raises it.
 */
export function lowerThreadPriority(increment: number): number | undefined {
  if (increment <= 0) return undefined;
  const tid = ownThreadId();
  if (tid === undefined) return undefined;
  try {
    const now = os.getPriority(tid);
    const target = Math.min(19, now + increment);
    if (target !== now) os.setPriority(tid, target);
    return os.getPriority(tid);
  } catch {
    return undefined;
  }
}
