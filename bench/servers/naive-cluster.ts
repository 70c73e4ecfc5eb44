// (b') The issue's reference design: the naive inline server (naive.ts) in one process per core,
// sharing the port through node:cluster as the gateway's PROCESSES=auto does. The bound for what
// the gateway's own two processes could reach here with the naive server's work per request.
import cluster from 'node:cluster';
import os from 'node:os';

if (cluster.isPrimary) {
  for (let i = 0; i < os.availableParallelism(); i++) cluster.fork();
  let stopping = false;
  // One process fewer would be measured under this label: stop, and the bench reports it.
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    console.error(`naive-cluster: worker ${worker.id} exited (${signal ?? code}); stopping`);
    process.exit(1);
  });
  process.on('SIGTERM', () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {});
    let left = workers.length;
    if (left === 0) process.exit(0);
    for (const w of workers) {
      w?.once('exit', () => --left === 0 && process.exit(0));
      w?.process.kill('SIGTERM');
    }
  });
} else {
  await import('./naive.js');
}
