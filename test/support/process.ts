// Runs the gateway as a separate process, as users and containers do: waits for its
// "listening" log line (with PORT=0 it names the port it got), or for it to exit.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything printed so far, stdout and stderr. */
  output(): string;
  readonly exited: Promise<number | null>;
}

interface SpawnOptions {
  readonly cwd: string;
  /** The whole environment of the child (callers merge process.env where they want it). */
  readonly env: NodeJS.ProcessEnv;
  /** Own process group, so npm and the node it starts can be killed together. */
  readonly detached?: boolean;
}

function launch(command: string, args: readonly string[], options: SpawnOptions) {
  // gRPC off unless a test asks for it: the default port 8081 would collide between test files.
  // One process unless a test asks for more (PROCESSES='' means the default, one per core): the
  // suite runs on small machines, and the cluster has tests of its own (test/cluster/).
  const env = { GRPC_PORT: '0', PROCESSES: '1', ...options.env };
  const child = spawn(command, args, { cwd: options.cwd, env, detached: options.detached ?? false });
  let output = '';
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const l of listeners) l();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited, onOutput: (l: () => void) => listeners.add(l) };
}

export function startServerProcess(command: string, args: readonly string[], options: SpawnOptions): Promise<ServerProcess> {
  const p = launch(command, args, options);
  return new Promise((resolve, reject) => {
    p.onOutput(() => {
      const m = /"port":(\d+),.*"msg":"listening"/.exec(p.output());
      if (m) resolve({ child: p.child, url: `http://127.0.0.1:${m[1]}`, output: p.output, exited: p.exited });
    });
    void p.exited.then((code) => reject(new Error(`exited ${code} before listening:\n${p.output()}`)));
  });
}

/** Runs a command that is expected to stop by itself; its exit code and all it printed. */
export async function runToExit(command: string, args: readonly string[], options: SpawnOptions): Promise<{ code: number | null; output: string }> {
  const p = launch(command, args, options);
  const code = await p.exited;
  return { code, output: p.output() };
}
