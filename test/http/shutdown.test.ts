import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { drainOnShutdown } from '../../src/http/shutdown.js';

const quiet = { info: () => {}, warn: () => {} };

/** A keep-alive request on its own agent; resolves with its status, Connection header and body. */
function get(port: number, agent: http.Agent): Promise<{ status: number; connection: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
    });
    req.once('error', reject);
  });
}

describe('drainOnShutdown', () => {
  it('counts the requests in flight, and answers the ones not yet answered with Connection: close once draining', async () => {
    const release: Array<() => void> = [];
    const server = http.createServer((_req, res) => {
      release.push(() => res.end('done'));
    });
    let drainingSeen = false;
    const drainer = drainOnShutdown(server, { drainMs: 50, graceMs: 5_000, log: quiet, onDraining: () => (drainingSeen = true) });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const agent = new http.Agent({ keepAlive: true });
    try {
      const answers = [get(port, agent), get(port, agent), get(port, agent)];
      while (release.length < 3) await new Promise((r) => setTimeout(r, 5));
      expect(drainer.inFlight()).toBe(3);

      // One answered before the signal keeps its connection; the two still open when it comes close theirs.
      release.shift()?.();
      const first = await answers[0];
      expect(first).toEqual({ status: 200, connection: 'keep-alive', body: 'done' });
      expect(drainer.inFlight()).toBe(2);

      const result = drainer.shutdown('SIGTERM');
      expect(drainingSeen).toBe(true);
      for (const r of release.splice(0)) r();
      const rest = await Promise.all(answers.slice(1));
      expect(rest.map((a) => [a.status, a.connection])).toEqual([
        [200, 'close'],
        [200, 'close'],
      ]);
      expect(drainer.inFlight()).toBe(0);
      agent.destroy();
      expect(await result).toBe('drained');
    } finally {
      agent.destroy();
      server.closeAllConnections();
      server.close();
    }
  });
});
