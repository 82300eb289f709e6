// One way of writing numbers on every page: digits grouped by thousands with commas ("14,209", "8,207
// tokens/s"), whatever the browser's locale, so a count in a table and a rate in a header read alike.

const GROUPED = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** An exact whole count, grouped: 14,209 documents, 804,096 parameters. */
export function formatCount(n: number | null | undefined): string {
  if (n == null || Number.isNaN(n)) return '—';
  return GROUPED.format(n);
}

/**
 * A measured value, compact: four significant digits below 1,000 (a loss of 2.143, a learning rate of
 * 0.0003), whole numbers grouped from 1,000 (8,207 tokens/s), and powers of ten outside 1e-3…1e7 (3e-5, 1.2e9).
 */
export function formatNumber(v: number | null | undefined): string {
  if (v == null || Number.isNaN(v)) return '—';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a < 1e-3 || a >= 1e7) return v.toExponential(1).replace('e+', 'e');
  if (a >= 1e3) return GROUPED.format(v);
  return Number(v.toPrecision(4)).toString();
}

/** Bytes in binary units, gigabytes with a decimal (59.7 GB of 23.5 GB). */
export function formatBytes(n: number): string {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed((v < 10 && i) || i >= 3 ? 1 : 0)} ${u[i]}`;
}

/**
 * Tick spacings of a numeric x axis: 1, 2, 5, 10, 20, 50, … Every such axis here counts whole things (steps,
 * layers, streams), where uPlot's own spacings (0.2, 0.25, 0.5) put ticks between two layers.
 */
export const WHOLE_INCREMENTS: readonly number[] = Array.from(
  { length: 30 },
  (_, i) => [1, 2, 5][i % 3]! * 10 ** Math.floor(i / 3),
);
