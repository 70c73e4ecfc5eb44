// Starting the three kinds of server as separate processes on free loopback ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Server {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitUntil(url: string, child: ChildProcess, timeoutMs: number, requireOk: boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    try {
      const res = await fetch(url);
      // Without a ready path, any answer means listening (the naive server fails a bare GET).
      if (res.ok || !requireOk) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready after ${timeoutMs} ms`);
}

export interface StartOptions {
  readonly env?: Record<string, string>;
  readonly nodeArgs?: readonly string[];
  /** GET this path until it answers 2xx. */
  readonly readyPath?: string;
  /** Where stdout (the gateway's log lines) goes; /dev/null by default. */
  readonly logFile?: string;
}

/**
 * How `npm start` runs the gateway: its node flags (the young generation's cap) and GLIBC_TUNABLES
 * (malloc), read from package.json, so the benchmark measures what users start.
 */
export function npmStartLaunch(): { nodeArgs: string[]; env: Record<string, string> } {
  const start = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start ?? '';
  const tunables = /GLIBC_TUNABLES=([^\s$]+)/.exec(start)?.[1];
  const flags = /\bnode ((?:--\S+ )*)dist\/server\.js/.exec(start)?.[1] ?? '';
  return { nodeArgs: flags.split(' ').filter(Boolean), env: tunables ? { GLIBC_TUNABLES: tunables } : {} };
}

/** A TypeScript server file under bench/servers, or dist/server.js for the gateway. */
export async function startServer(name: string, entry: string, options: StartOptions = {}): Promise<Server> {
  const port = await freePort();
  const isTs = entry.endsWith('.ts');
  const args = [...(options.nodeArgs ?? []), ...(isTs ? ['--import', 'tsx'] : []), entry];
  // Logs go to /dev/null: written (the gateway logs every request, as in production), not kept.
  const devNull = openSync(options.logFile ?? '/dev/null', 'w');
  let stderr = '';
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // GRPC_PORT 0: several gateways run side by side here, and only HTTP is measured.
    env: { ...process.env, PORT: String(port), GRPC_PORT: '0', LOG_LEVEL: 'info', REGISTRY_POLL_SECONDS: '0', ...options.env },
    stdio: ['ignore', devNull, 'pipe'],
  });
  child.stderr?.on('data', (d: Buffer) => void (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(`${url}${options.readyPath ?? '/'}`, child, 60_000, options.readyPath !== undefined);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${name}: ${(err as Error).message}\n${stderr.slice(-2000)}`);
  }
  return {
    name,
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const kill = setTimeout(() => {
          console.error(`${name}: still running 15 s after SIGTERM; killed`);
          child.kill('SIGKILL');
        }, 15_000);
        child.once('exit', (code, signal) => {
          clearTimeout(kill);
          if (code !== 0) console.error(`${name}: exited with ${signal ?? `code ${code}`} after SIGTERM\n${stderr.slice(-2000)}`);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/**
 * CPU seconds (user + system) used so far by a process and every live descendant (a cluster's
 * workers), from /proc; NaN where /proc is not there. CPU per request does not depend on how
 * busy the rest of the machine is the way throughput does, so the table reports both.
 */
export function treeCpuSeconds(pid: number): number {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return NaN;
  }
  for (const e of entries) {
    const parent = Number(procStat(`/proc/${e}/stat`)?.[1]);
    if (Number.isFinite(parent)) children.set(parent, [...(children.get(parent) ?? []), Number(e)]);
  }
  let seconds = 0;
  const todo = [pid];
  for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
    seconds += cpuSeconds(procStat(`/proc/${p}/stat`));
    todo.push(...(children.get(p) ?? []));
  }
  return seconds;
}

/** The fields of a /proc stat file after the command name (which may hold spaces); undefined if gone. */
export function procStat(file: string): string[] | undefined {
  try {
    const stat = readFileSync(file, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds from procStat's fields (0 when absent); USER_HZ is 100 on Linux. */
export function cpuSeconds(fields: readonly string[] | undefined): number {
  return fields ? (Number(fields[11]) + Number(fields[12])) / 100 : 0;
}

/** Idle CPU seconds of the whole machine so far (idle + iowait of every CPU, /proc/stat); NaN without /proc. */
export function machineIdleSeconds(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/) ?? [];
    return (Number(fields[4]) + Number(fields[5])) / 100;
  } catch {
    return NaN;
  }
}
