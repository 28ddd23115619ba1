// Plain-text line charts for the terminal (loss curves).

/** A height x width character plot of values (downsampled by averaging), with the y range labelled. */
export function asciiChart(values: readonly number[], width = 60, height = 10): string {
  if (values.length === 0) return "(no values)";
  const buckets = Math.min(width, values.length);
  const points: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor((b * values.length) / buckets);
    const to = Math.max(from + 1, Math.floor(((b + 1) * values.length) / buckets));
    const slice = values.slice(from, to);
    points.push(slice.reduce((s, v) => s + v, 0) / slice.length);
  }
  const lo = Math.min(...points);
  const hi = Math.max(...points);
  const span = hi - lo || 1;
  const rows: string[] = [];
  for (let r = height - 1; r >= 0; r--) {
    const label = (lo + (span * r) / (height - 1)).toFixed(3).padStart(8);
    const line = points.map((v) => (Math.round(((v - lo) / span) * (height - 1)) === r ? "*" : " ")).join("");
    rows.push(`${label} |${line}`);
  }
  rows.push(`${" ".repeat(8)} +${"-".repeat(points.length)}`);
  return rows.join("\n");
}
