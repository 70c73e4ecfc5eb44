// The benchmark's table and target checks, printed as Markdown so a run pastes into docs.
import type { LoadResult } from './load.js';

export interface Row {
  readonly scenario: string;
  readonly server: string;
  readonly connections: number;
  readonly result: LoadResult | undefined;
  readonly note?: string;
}

export interface Target {
  readonly name: string;
  /** Measured value and the bound it is held to; undefined = could not be measured. */
  readonly value: number | undefined;
  readonly bound: number;
  readonly higherIsBetter: boolean;
  readonly unit: string;
  readonly detail?: string;
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 1 : 0) : '—');

export function table(rows: readonly Row[]): string {
  const lines = [
    '| scenario | server | conns | req/s | p50 ms | p99 ms | errors | CPU µs/req | client µs/req | idle % | note |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  const num = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v.toFixed(0) : '—');
  for (const r of rows) {
    const x = r.result;
    lines.push(
      `| ${r.scenario} | ${r.server} | ${r.connections} | ${x ? x.rps.toFixed(0) : '—'} | ${x ? ms(x.p50) : '—'} | ${x ? ms(x.p99) : '—'} | ${x ? x.errors : '—'} | ${num(x?.cpuUs)} | ${num(x?.clientCpuUs)} | ${num(x?.idlePct)} | ${r.note ?? ''} |`,
    );
  }
  return lines.join('\n');
}

export function targets(list: readonly Target[]): string {
  const lines = ['| target | measured | bound | verdict |', '|---|---:|---:|---|'];
  for (const t of list) {
    let verdict: string;
    if (t.value === undefined) verdict = `not available${t.detail ? ` (${t.detail})` : ''}`;
    else {
      const met = t.higherIsBetter ? t.value >= t.bound : t.value <= t.bound;
      const by = t.higherIsBetter ? t.bound / t.value : t.value / t.bound;
      verdict = met ? 'met' : `**MISSED** by ${((by - 1) * 100).toFixed(0)}% (${t.higherIsBetter ? 'short of' : 'over'} the bound)`;
      if (t.detail) verdict += `; ${t.detail}`;
    }
    lines.push(`| ${t.name} | ${t.value === undefined ? '—' : `${t.value.toFixed(2)}${t.unit}`} | ${t.higherIsBetter ? '≥' : '≤'} ${t.bound}${t.unit} | ${verdict} |`);
  }
  return lines.join('\n');
}

export function mean(results: ReadonlyArray<LoadResult | undefined>): LoadResult | undefined {
  const xs = results.filter((r): r is LoadResult => r !== undefined);
  if (xs.length === 0) return undefined;
  const avg = (f: (r: LoadResult) => number) => xs.reduce((a, r) => a + f(r), 0) / xs.length;
  // Optional figures are averaged over the runs that have them.
  const optional = (f: (r: LoadResult) => number | undefined): number | undefined => {
    const vs = xs.map(f).filter((v): v is number => v !== undefined && Number.isFinite(v));
    return vs.length > 0 ? vs.reduce((a, v) => a + v, 0) / vs.length : undefined;
  };
  const cpuUs = optional((r) => r.cpuUs);
  const clientCpuUs = optional((r) => r.clientCpuUs);
  const idlePct = optional((r) => r.idlePct);
  return {
    rps: avg((r) => r.rps),
    p50: avg((r) => r.p50),
    p99: avg((r) => r.p99),
    errors: xs.reduce((a, r) => a + r.errors, 0),
    ...(cpuUs === undefined ? {} : { cpuUs }),
    ...(clientCpuUs === undefined ? {} : { clientCpuUs }),
    ...(idlePct === undefined ? {} : { idlePct }),
  };
}
