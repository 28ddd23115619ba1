// Confidence intervals for a task metric measured on a finite test set: the percentile bootstrap over examples
// (Efron & Tibshirani), seeded so a report shows the same interval every time it is rendered. It sits next to
// task-metrics.ts, below every layer that reports an interval (instruction tuning, compare, experiments, report).

import { Rng } from "../tensor/random.js";

export interface Interval {
  /** The metric on the full sample. */
  value: number;
  low: number;
  high: number;
  /** Coverage, e.g. 0.95. */
  level: number;
}

export interface BootstrapOptions {
  /** Resamples (default 1000). */
  samples?: number;
  /** Default 0.95. */
  level?: number;
  seed?: number;
}

/**
 * Percentile bootstrap of `statistic` over `items`: resample items with replacement `samples` times and take
 * the (1-level)/2 and (1+level)/2 quantiles of the statistic.
 */
export function bootstrapInterval<T>(
  items: readonly T[],
  statistic: (sample: readonly T[]) => number,
  options: BootstrapOptions = {},
): Interval {
  const samples = options.samples ?? 1000;
  const level = options.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new RangeError(`bootstrap level must be in (0, 1), got ${level}`);
  if (!Number.isInteger(samples) || samples < 1)
    throw new RangeError(`bootstrap samples must be a positive integer, got ${samples}`);
  const value = statistic(items);
  if (items.length === 0) return { value, low: value, high: value, level };
  const rng = new Rng(options.seed ?? 0);
  const stats = new Float64Array(samples);
  const resample: T[] = new Array(items.length);
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < items.length; i++) resample[i] = items[randomIndex(rng, items.length)] as T;
    stats[s] = statistic(resample);
  }
  stats.sort();
  return { value, low: quantile(stats, (1 - level) / 2), high: quantile(stats, (1 + level) / 2), level };
}

/** Bootstrap interval of accuracy (as a fraction) from per-example correctness. */
export function accuracyInterval(correct: readonly boolean[], options: BootstrapOptions = {}): Interval {
  return bootstrapInterval(correct, accuracyOf, options);
}

function accuracyOf(correct: readonly boolean[]): number {
  if (correct.length === 0) return 0;
  let hits = 0;
  for (const c of correct) if (c) hits++;
  return hits / correct.length;
}

/** An integer in [0, n) (as src/prompting/random.ts draws it, so intervals stay the same). */
function randomIndex(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(rng.next() * n));
}

/** Linear-interpolated quantile of sorted values (numpy's default "linear" method). */
function quantile(sorted: Float64Array, q: number): number {
  const position = q * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(sorted.length - 1, lower + 1);
  return (
    (sorted[lower] as number) + (position - lower) * ((sorted[upper] as number) - (sorted[lower] as number))
  );
}
