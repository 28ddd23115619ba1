// The charts a report derives from its runs: training and validation curves, accuracy per run with its
// interval, accuracy against any numeric option swept across otherwise equal prompt runs (k demonstrations,
// self-consistency paths, ...), self-consistency vote agreement, and the two Pareto plots (specialists:
// metric vs trainable parameters; generalists: accuracy vs tokens per example). A run that is a comparison
// row's artefact is plotted once, as that row.

import { stableStringify } from "../../lm/language-model.js";
import type {
  BarChartData,
  LineChartData,
  LinePoint,
  ReportChart,
  ReportRun,
  ScatterPoint,
} from "./report-input.js";

/** A training run's curves (step losses from train_run.json, evaluations from eval_log.jsonl). */
export interface TrainCurves {
  runId: string;
  stepLosses: LinePoint[];
  evalLoss: LinePoint[];
  evalAccuracy: LinePoint[];
}

/** What a self-consistency example contributes to the agreement chart. */
export interface VotedExample {
  votes?: ReadonlyArray<{ answer: string; count: number }>;
  answer: string | null;
  correct: boolean;
}

/**
 * Self-consistency agreement: how many sampled paths voted for the chosen answer, split by whether it was
 * right. A well-calibrated run is right when its paths agree (Wang et al. 2023, fig. 5). Null without votes.
 */
export function voteAgreementChart(runId: string, examples: readonly VotedExample[]): BarChartData | null {
  const voted = examples.filter((r) => Array.isArray(r.votes) && r.votes.length > 0);
  if (voted.length === 0) return null;
  const counts = new Map<string, { correct: number; wrong: number; agreement: number; paths: number }>();
  for (const example of voted) {
    const votes = example.votes ?? [];
    const paths = votes.reduce((total, v) => total + v.count, 0);
    // votes for the answer the run chose (the plurality, unless ties were broken another way)
    const chosen = votes.find((v) => v.answer === example.answer);
    const agreement = chosen?.count ?? Math.max(...votes.map((v) => v.count));
    const key = `${agreement}/${paths}`;
    const entry = counts.get(key) ?? { correct: 0, wrong: 0, agreement, paths };
    if (example.correct) entry.correct++;
    else entry.wrong++;
    counts.set(key, entry);
  }
  const ordered = [...counts.entries()].sort(
    (a, b) => a[1].agreement / a[1].paths - b[1].agreement / b[1].paths || a[1].paths - b[1].paths,
  );
  return {
    kind: "bars",
    title: `Votes for the chosen answer: ${runId}`,
    xLabel: "paths that voted for the chosen answer",
    yLabel: "examples",
    bars: ordered.flatMap(([key, entry]) => [
      { category: key, group: "correct", value: entry.correct },
      { category: key, group: "wrong", value: entry.wrong },
    ]),
  };
}

/**
 * Accuracy against each numeric option that varies among prompt runs of the same model, task and strategy:
 * one line per setting of the other options (e.g. k with gold vs flipped labels). Only lines of two or more
 * points are drawn; the seed is not an axis.
 */
export function optionSweepCharts(runs: readonly ReportRun[]): LineChartData[] {
  const promptRuns = runs.filter((r) => r.kind === "prompt" && r.metric?.name === "accuracy");
  const families = new Map<string, ReportRun[]>();
  for (const run of promptRuns) {
    const key = stableStringify([run.model, run.endpoint ?? null, run.task, run.approach]);
    families.set(key, [...(families.get(key) ?? []), run]);
  }
  const charts: LineChartData[] = [];
  for (const family of families.values()) {
    if (family.length < 2) continue;
    const numericKeys = new Set<string>();
    for (const run of family)
      for (const [key, value] of Object.entries(run.options))
        if (typeof value === "number" && key !== "seed") numericKeys.add(key);
    for (const key of [...numericKeys].sort()) {
      const series = new Map<string, LinePoint[]>();
      for (const run of family) {
        const x = run.options[key];
        if (typeof x !== "number") continue;
        const rest = Object.fromEntries(
          Object.entries(run.options).filter(([k]) => k !== key && k !== "seed"),
        );
        const name = describeOptions(rest) || run.approach;
        series.set(name, [...(series.get(name) ?? []), { x, y: run.metric?.value as number }]);
      }
      const lines = [...series.entries()].filter(([, points]) => new Set(points.map((p) => p.x)).size >= 2);
      if (lines.length === 0) continue;
      const first = family[0] as ReportRun;
      charts.push({
        kind: "line",
        title: `Accuracy vs ${key}: ${first.approach} on ${first.task} (${first.model})`,
        xLabel: key,
        yLabel: "accuracy",
        percent: true,
        series: lines.map(([name, points]) => ({ name, points })),
      });
    }
  }
  return charts;
}

/** "labels=flipped, temperature=0.7": the options that tell one line from another. */
function describeOptions(options: Record<string, unknown>): string {
  return Object.keys(options)
    .sort()
    .map((k) => `${k}=${typeof options[k] === "string" ? options[k] : stableStringify(options[k])}`)
    .join(", ");
}

/** "lora (train-lora)", or just the run id when it already ends with the strategy or method. */
export function pointLabel(run: ReportRun): string {
  return run.id.split("/").at(-1) === run.approach ? run.id : `${run.approach} (${run.id})`;
}

export interface RunChartParts {
  runs: readonly ReportRun[];
  curves: readonly TrainCurves[];
  voteCharts: readonly ReportChart[];
  comparisonCharts: readonly ReportChart[];
  comparisonSpecialists: readonly ScatterPoint[];
  comparisonGeneralists: readonly ScatterPoint[];
  /** Interval coverage, for the titles. */
  level: number;
}

/** Every chart of the report, in reading order. */
export function buildRunCharts(parts: RunChartParts): ReportChart[] {
  const charts: ReportChart[] = [];
  const curve = (
    pick: (c: TrainCurves) => LinePoint[],
    title: string,
    yLabel: string,
    percent: boolean,
  ): void => {
    const withPoints = parts.curves.filter((c) => pick(c).length > 0);
    if (withPoints.length === 0) return;
    charts.push({
      kind: "line",
      title,
      xLabel: "optimizer step",
      yLabel,
      ...(percent ? { percent } : {}),
      series: withPoints.map((c) => ({ name: c.runId, points: pick(c) })),
    });
  };
  curve((c) => c.stepLosses, "Training loss per step", "training loss", false);
  curve((c) => c.evalLoss, "Validation loss", "validation loss", false);
  curve((c) => c.evalAccuracy, "Validation accuracy", "accuracy", true);

  const accuracyRuns = parts.runs.filter((r) => r.metric?.name === "accuracy");
  if (accuracyRuns.length > 0) {
    charts.push({
      kind: "bars",
      title: `Accuracy per run (error bars: bootstrap ${Math.round(100 * parts.level)}% CI)`,
      xLabel: "run",
      yLabel: "accuracy",
      percent: true,
      bars: accuracyRuns.map((r) => ({
        category: r.id,
        group: r.kind === "train" ? "fine-tuning" : "prompting",
        value: r.metric?.value as number,
        ...(r.metric?.interval ? { low: r.metric.interval.low, high: r.metric.interval.high } : {}),
      })),
    });
  }
  charts.push(...parts.comparisonCharts);
  charts.push(...optionSweepCharts(parts.runs));
  charts.push(...parts.voteCharts);

  const specialists: ScatterPoint[] = [
    ...parts.runs
      .filter((r) => r.kind === "train" && !r.comparison && r.metric && (r.cost.trainableParameters ?? 0) > 0)
      .map((r) => ({
        label: pointLabel(r),
        x: r.cost.trainableParameters as number,
        y: r.metric?.value as number,
        group: "runs",
      })),
    ...parts.comparisonSpecialists,
  ];
  if (specialists.length > 0) {
    charts.push({
      kind: "scatter",
      title: "Specialists: metric vs trainable parameters (dashed: Pareto frontier)",
      xLabel: "trainable parameters (log scale)",
      yLabel: "metric",
      logX: true,
      percent: true,
      frontier: true,
      points: specialists,
    });
  }
  const promptRuns = parts.runs.filter(
    (r) => r.kind === "prompt" && !r.comparison && r.metric && r.cost.tokensPerExample !== undefined,
  );
  const generalists: ScatterPoint[] = [
    ...promptRuns.map((r) => ({
      label: pointLabel(r),
      x: r.cost.tokensPerExample as number,
      y: r.metric?.value as number,
      group: "runs",
    })),
    ...parts.comparisonGeneralists,
  ];
  if (generalists.length > 0) {
    const estimated = promptRuns.some((r) => r.cost.tokensEstimated);
    charts.push({
      kind: "scatter",
      title: "Generalists: accuracy vs tokens per example (dashed: Pareto frontier)",
      xLabel: estimated ? "tokens per example (≈ characters / 4 where not counted)" : "tokens per example",
      yLabel: "accuracy",
      percent: true,
      frontier: true,
      points: generalists,
    });
  }
  return charts;
}
