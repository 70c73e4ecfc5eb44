// autocannon runs (in a worker thread, so the client has its own event loop) and a microsecond
// latency probe of our own: autocannon reports whole milliseconds.
import http from 'node:http';
import autocannon from 'autocannon';

export interface LoadResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  /** Server CPU (all its processes) per request, µs; set where the caller measured it. */
  readonly cpuUs?: number;
  /** The load generator's CPU (this bench process, autocannon's thread included) per request, µs. */
  readonly clientCpuUs?: number;
  /** The machine's idle CPU over the run, % of all its CPUs: near 0 = every CPU was busy. */
  readonly idlePct?: number;
}

export interface Shot {
  readonly path: string;
  readonly body: string | Buffer;
  readonly headers?: Record<string, string>;
}

export async function cannon(url: string, shot: Shot, connections: number, seconds: number): Promise<LoadResult> {
  const result = await autocannon({
    url: `${url}${shot.path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...shot.headers },
    body: shot.body,
    connections,
    duration: seconds,
    // A worker thread would receive a Buffer body as a plain Uint8Array, which autocannon
    // refuses: byte bodies are sent from this thread (see the 150k scenario: both sides alike).
    ...(typeof shot.body === 'string' ? { workers: 1 } : {}),
  });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx + result.timeouts };
}

/** Sends `shot` one request at a time for `seconds`; per-request latency in µs. */
export async function probe(url: string, shot: Shot, seconds: number): Promise<{ p50: number; p99: number; count: number; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(`${url}${shot.path}`);
  const body = typeof shot.body === 'string' ? Buffer.from(shot.body) : shot.body;
  const times: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t = performance.now();
    const status = await new Promise<number>((resolve) => {
      const req = http.request(
        { agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length, ...shot.headers } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.end(body);
    });
    times.push((performance.now() - t) * 1000);
    if (status !== 200) errors++;
    // Spaced out, so the probe measures latency rather than adding load.
    await new Promise((r) => setTimeout(r, 2));
  }
  agent.destroy();
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), count: times.length, errors };
}
