// Per-thread facts from Linux /proc, for tests that check what the kernel sees.
import { readdirSync, readFileSync } from 'node:fs';

/** Nice value of each thread of process `pid` ('self' for this one), by thread id (field 19 of its stat). */
export function niceByThread(pid: number | 'self' = 'self'): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // The command name may hold spaces: fields are counted after its closing parenthesis.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), Number(fields[16]));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}
