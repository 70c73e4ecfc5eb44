// An inference worker thread: holds the onnxruntime sessions pinned to it and runs them, so a
// model's computation never holds the gateway's event loop. One run at a time (session.run
// computes on this thread); the main thread caps how many runs of each version wait here.
import { parentPort, workerData } from 'node:worker_threads';
import { createOrtSessionFactory, type HostTensor, type ModelSession } from '../session.js';
import { timedRun } from './timed-run.js';
import { transferable, type FromWorker, type ToWorker, type WireTensor, type WorkerData } from './protocol.js';
import { lowerThreadPriority } from './priority.js';

const port = parentPort;
if (!port) throw new Error('inference worker started outside a worker thread');
const faultsAllowed = (workerData as WorkerData | undefined)?.faults === true;
const sessions = new Map<number, ModelSession>();
const factories = new Map<number, ReturnType<typeof createOrtSessionFactory>>();
let nextFault: 'crash' | 'hang' | undefined;
// Before any session exists, so onnxruntime's intra-op threads inherit the lower priority.
lowerThreadPriority((workerData as WorkerData | undefined)?.nice ?? 0);

function factory(threads: number): ReturnType<typeof createOrtSessionFactory> {
  let f = factories.get(threads);
  if (!f) factories.set(threads, (f = createOrtSessionFactory({ intraOpNumThreads: threads })));
  return f;
}

function reply(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  try {
    port?.postMessage(message, transfer);
  } catch {
    // A buffer onnxruntime owns (external memory) cannot move: send copies instead.
    port?.postMessage(message);
  }
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.op) {
    case 'load': {
      const session = await factory(msg.threads).create(msg.path);
      sessions.set(msg.sid, session);
      reply({ id: msg.id, ok: true, signature: session.signature });
      return;
    }
    case 'run': {
      if (nextFault === 'crash') process.exit(70);
      if (nextFault === 'hang') for (;;); // a run that never returns, as a stuck native call would
      const session = sessions.get(msg.sid);
      if (!session) throw new Error(`session ${msg.sid} is not loaded on this worker`);
      const feeds: Record<string, HostTensor> = {};
      for (const [name, type, dims, data] of msg.feeds) feeds[name] = { type, dims, data };
      const { out: result, us } = await timedRun(session, feeds, msg.outputs);
      const transfer: ArrayBuffer[] = [];
      const outputs: WireTensor[] = [];
      for (const name in result) {
        const t = result[name] as HostTensor;
        outputs.push([name, t.type, t.dims, transferable(t.data, transfer)]);
      }
      reply({ id: msg.id, ok: true, outputs, us }, transfer);
      return;
    }
    case 'release': {
      const session = sessions.get(msg.sid);
      sessions.delete(msg.sid);
      await session?.release();
      reply({ id: msg.id, ok: true });
      return;
    }
    case 'fault': {
      if (!faultsAllowed) throw new Error('fault injection is off');
      nextFault = msg.kind;
      reply({ id: msg.id, ok: true });
      return;
    }
  }
}

port.on('message', (msg: ToWorker) => {
  handle(msg).catch((err: unknown) => reply({ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) }));
});
