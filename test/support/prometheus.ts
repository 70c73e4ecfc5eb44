// Starts a real Prometheus (Debian's package; .ci/run installs it) scraping the given targets
// every second, in a temp folder, on a free loopback port.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { makeTempDir, writeFile } from './harness.js';

export const hasPrometheus = spawnSync('prometheus', ['--version']).status === 0;

export interface RunningPrometheus {
  readonly url: string;
  query(expr: string): Promise<{ status: string; error?: string; data?: { resultType: string; result: unknown[] } }>;
  /** Waits until every target has been scraped at least `scrapes` times. */
  waitForScrapes(scrapes: number): Promise<void>;
  /** Waits for `more` scrapes of every target after the ones seen so far. */
  waitForMoreScrapes(more: number): Promise<void>;
  /** A range query, as Grafana sends for annotations: matrix of [seconds, value] pairs. */
  queryRange(expr: string, startSeconds: number, endSeconds: number, stepSeconds: number): Promise<{ status: string; error?: string; data?: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> } }>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startPrometheus(targets: string[], rules?: string): Promise<RunningPrometheus> {
  const temp = makeTempDir('mg-prom-');
  const config = [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    ...(rules ? [`rule_files: ["${writeFile(temp.dir, 'rules.yml', rules)}"]`] : []),
    'scrape_configs:',
    '  - job_name: model-gateway',
    `    static_configs: [{ targets: [${targets.map((t) => `"${t}"`).join(', ')}] }]`,
  ].join('\n');
  const configFile = writeFile(temp.dir, 'prometheus.yml', config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(temp.dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: 'ignore' },
  );
  const query: RunningPrometheus['query'] = async (expr) => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await res.json()) as Awaited<ReturnType<RunningPrometheus['query']>>;
  };
  const scrapes = async (): Promise<number> => {
    const r = await query('min(count_over_time(up[1m]))');
    return Number((r.data?.result[0] as { value?: [number, string] } | undefined)?.value?.[1] ?? 0);
  };
  const waitForScrapes = async (wanted: number): Promise<void> => {
    for (let i = 0; i < 300; i++) {
      const up = await query('min(up)');
      if ((await scrapes()) >= wanted && (up.data?.result[0] as { value?: [number, string] } | undefined)?.value?.[1] === '1') return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('targets were not scraped in time');
  };
  for (let i = 0; ; i++) {
    if ((await fetch(`${url}/-/ready`).catch(() => undefined))?.ok) break;
    if (i > 200) throw new Error('prometheus did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    query,
    waitForScrapes,
    async waitForMoreScrapes(more) {
      await waitForScrapes((await scrapes()) + more);
    },
    async queryRange(expr, start, end, step) {
      const params = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(step) });
      const res = await fetch(`${url}/api/v1/query_range?${params.toString()}`);
      return (await res.json()) as Awaited<ReturnType<RunningPrometheus['queryRange']>>;
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      temp.cleanup();
    },
  };
}
