// Small text helpers for the CLI's tables: aligned columns, percentages, byte sizes.

export type Align = 'left' | 'right';

/**
 * Rows of cells as aligned text, two spaces between columns, trailing spaces trimmed.
 * `align[i]` sets column i (left by default); the header row is aligned like the others.
 */
export function table(rows: ReadonlyArray<readonly string[]>, align: readonly Align[] = [], indent = ''): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => {
      const cells = row.map((cell, i) => (align[i] === 'right' ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)));
      return `${indent}${cells.join('  ')}`.trimEnd();
    })
    .join('\n');
}

/** 0.9 → "90.0%"; one decimal, so a 1-in-1000 canary still shows. */
export function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** 1234 → "1.2 KiB"; below 1 KiB in bytes. */
export function bytes(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (n < 1024) return `${n} B`;
  let value = n;
  let unit = 'B';
  for (const u of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return `${value.toFixed(1)} ${unit}`;
}
