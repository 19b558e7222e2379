// How numbers read in the terminal: durations as h:mm:ss, learning rates in scientific notation, metrics with four
// decimals, throughputs without false precision. Shared by the progress lines, the tables and the bench output.

/** 75 → "1:15", 3725 → "1:02:05"; "-" when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}

/** 0.00005 → "5.00e-5"; 0 → "0". */
export function formatLearningRate(lr: number): string {
  if (!Number.isFinite(lr)) return String(lr);
  if (lr === 0) return '0';
  const [mantissa, exponent] = lr.toExponential(2).split('e');
  return `${mantissa}e${Number(exponent)}`;
}

/** A metric or loss: four decimals ("nan" for NaN, "-" for a missing value). */
export function formatMetric(value: number | null | undefined): string {
  if (value === undefined || value === null) return '-';
  if (Number.isNaN(value)) return 'nan';
  return value.toFixed(4);
}

/** Samples or tokens per second: 3 significant digits below 100, whole numbers with separators above. */
export function formatRate(value: number): string {
  if (!Number.isFinite(value)) return '-';
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toPrecision(3);
}

/** 1234567 → "1.23M" (parameter counts). */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** Epochs: integers as they are, fractions with two decimals. */
export function formatEpoch(epoch: number): string {
  return Number.isInteger(epoch) ? String(epoch) : epoch.toFixed(2);
}
