// What the UI knows about a results folder: the report's model of it (src/eval/report/load-report-input.ts,
// read-only, with bootstrap intervals), kept in memory until the user asks for a reload, plus the per-run
// views the pages need (run summaries, example pages, the charts of one run rendered to SVG by the report's
// chart builders). Secrets from the environment are redacted once, when the folder is loaded, so no view can
// leak one.

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { chartSpec, renderSvg } from "../eval/report/charts.js";
import { loadReportInput } from "../eval/report/load-report-input.js";
import { redactDeep } from "../eval/report/redact.js";
import {
  type BarChartData,
  type ReportChart,
  type ReportExample,
  type ReportInput,
  ReportInputError,
  type ReportRun,
  type ReportTable,
  type SkippedEntry,
} from "../eval/report/report-input.js";
import { UiError } from "./ui-error.js";

export interface RunCatalogOptions {
  /** Strings replaced by [REDACTED] wherever they appear (e.g. secretsFromEnvironment(process.env)). */
  secrets?: readonly string[];
  /** Bootstrap resamples for the intervals (default 1000). */
  bootstrapSamples?: number;
  /** Bootstrap seed (default 0). */
  seed?: number;
}

/** One row of the runs list. */
export interface RunSummary {
  id: string;
  kind: ReportRun["kind"];
  model: string;
  task: string;
  approach: string;
  metric?: ReportRun["metric"];
  startedAt?: string;
  finishedAt?: string;
  /** Examples recorded (prompt runs; 0 for runs without per-example records). */
  examples: number;
}

export interface RunsListing {
  resultsDir: string;
  /** Why the list is empty (no folder, nothing recognisable in it), if it is. */
  problem?: string;
  runs: RunSummary[];
  /** Comparison tables of the folder (compare.json files written by adaptlm compare). */
  tables: ReportTable[];
  /** The folder's charts across runs (accuracy per run, Pareto plots, comparisons): /api/chart?n=N. */
  charts: ChartInfo[];
  skipped: SkippedEntry[];
}

export type ExampleFilter = "all" | "correct" | "wrong";

export interface ExamplePage {
  runId: string;
  /** Examples matching the filter. */
  total: number;
  offset: number;
  examples: ReportExample[];
}

export interface ChartInfo {
  index: number;
  title: string;
}

interface Snapshot {
  input: ReportInput | undefined;
  problem?: string;
  byId: Map<string, ReportRun>;
  examples: Map<string, ReportExample[]>;
  svgs: Map<string, Promise<string>>;
}

/** Most examples returned by one page request. */
export const MAX_EXAMPLE_PAGE = 200;

export class RunCatalog {
  readonly resultsDir: string;
  private readonly options: RunCatalogOptions;
  private snapshot: Snapshot | undefined;

  constructor(resultsDir: string, options: RunCatalogOptions = {}) {
    this.resultsDir = resolve(resultsDir);
    this.options = options;
  }

  /** Forgets what was loaded: the next view reads the folder again (new runs, finished runs). */
  reload(): void {
    this.snapshot = undefined;
  }

  listing(): RunsListing {
    const snapshot = this.load();
    const runs = (snapshot.input?.runs ?? []).map((run) => summarize(run, snapshot));
    return {
      resultsDir: this.resultsDir,
      ...(snapshot.problem !== undefined ? { problem: snapshot.problem } : {}),
      runs,
      tables: snapshot.input?.tables ?? [],
      charts: folderCharts(snapshot.input).map((chart, index) => ({ index, title: chart.title })),
      skipped: snapshot.input?.skipped ?? [],
    };
  }

  /** The run `id`, or UiError UI_RUN_NOT_FOUND (404). */
  run(id: string): ReportRun {
    const run = this.load().byId.get(id);
    if (!run) {
      throw new UiError(
        "UI_RUN_NOT_FOUND",
        `no run "${id}" in ${this.resultsDir}: pick one from the runs list (or reload it)`,
        404,
      );
    }
    return run;
  }

  /** Every recorded example of run `id` in task order (empty for runs without per-example records). */
  allExamples(id: string): ReportExample[] {
    this.run(id);
    return this.load().examples.get(id) ?? [];
  }

  examplePage(
    id: string,
    page: { offset?: number; limit?: number; filter?: ExampleFilter } = {},
  ): ExamplePage {
    const filter = page.filter ?? "all";
    const all = this.allExamples(id);
    const matching =
      filter === "all" ? all : all.filter((example) => example.correct === (filter === "correct"));
    const offset = Math.max(0, Math.floor(page.offset ?? 0));
    const limit = Math.min(MAX_EXAMPLE_PAGE, Math.max(1, Math.floor(page.limit ?? 20)));
    return { runId: id, total: matching.length, offset, examples: matching.slice(offset, offset + limit) };
  }

  /** The charts of one run (built from the report's model; see runCharts). */
  charts(id: string): ChartInfo[] {
    return runCharts(this.run(id), this.load().input?.charts ?? []).map((chart, index) => ({
      index,
      title: chart.title,
    }));
  }

  /**
   * Chart `index` of run `id` (or of the whole folder when `id` is undefined) as SVG, rendered once per load
   * by the report's Vega renderer.
   */
  chartSvg(id: string | undefined, index: number): Promise<string> {
    const snapshot = this.load();
    const charts =
      id === undefined ? folderCharts(snapshot.input) : runCharts(this.run(id), snapshot.input?.charts ?? []);
    const chart = charts[index];
    if (!chart) {
      const owner = id === undefined ? "the folder" : `run "${id}"`;
      return Promise.reject(
        new UiError("UI_CHART_NOT_FOUND", `${owner} has ${charts.length} chart(s), no chart ${index}`, 404),
      );
    }
    const key = `${id ?? ""}\u0000${index}`;
    let svg = snapshot.svgs.get(key);
    if (!svg) {
      // a single bar (one run's metric) needs no full-width plot
      const narrow = chart.kind === "bars" && chart.bars.length === 1;
      svg = renderSvg(chartSpec(chart, { width: narrow ? 220 : 520, height: 240 }));
      snapshot.svgs.set(key, svg);
      // a failed render is retried on the next request instead of being remembered
      svg.catch(() => snapshot.svgs.delete(key));
    }
    return svg;
  }

  private load(): Snapshot {
    if (this.snapshot) return this.snapshot;
    const empty = (problem: string): Snapshot => ({
      input: undefined,
      problem,
      byId: new Map(),
      examples: new Map(),
      svgs: new Map(),
    });
    if (!existsSync(this.resultsDir)) {
      this.snapshot = empty(
        `${this.resultsDir} does not exist: run adaptlm prompt / train / compare first, or pass --results DIR`,
      );
      return this.snapshot;
    }
    let input: ReportInput;
    try {
      input = loadReportInput(this.resultsDir, {
        // the UI pages through every example, so the loader keeps them all
        maxExamples: Number.MAX_SAFE_INTEGER,
        ...(this.options.bootstrapSamples !== undefined
          ? { bootstrapSamples: this.options.bootstrapSamples }
          : {}),
        ...(this.options.seed !== undefined ? { seed: this.options.seed } : {}),
      });
    } catch (error) {
      // an empty or foreign folder is a state to show, not a crash: the user may start a run and reload
      if (error instanceof ReportInputError) {
        this.snapshot = empty(error.message);
        return this.snapshot;
      }
      throw error;
    }
    const redacted = redactDeep(input, this.options.secrets ?? []);
    this.snapshot = {
      input: redacted,
      byId: new Map(redacted.runs.map((run) => [run.id, run])),
      examples: new Map(redacted.examples.map((section) => [section.runId, section.examples])),
      svgs: new Map(),
    };
    return this.snapshot;
  }
}

function summarize(run: ReportRun, snapshot: Snapshot): RunSummary {
  return {
    id: run.id,
    kind: run.kind,
    model: run.model,
    task: run.task,
    approach: run.approach,
    ...(run.metric ? { metric: run.metric } : {}),
    ...(run.startedAt ? { startedAt: run.startedAt } : {}),
    ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
    examples: snapshot.examples.get(run.id)?.length ?? 0,
  };
}

/** The report's charts that span runs (every chart not about a single run, see runCharts). */
function folderCharts(input: ReportInput | undefined): ReportChart[] {
  if (!input) return [];
  const runIds = input.runs.map((run) => run.id);
  return input.charts.filter((chart) => !runIds.some((id) => chart.title.endsWith(`: ${id}`)));
}

/**
 * The charts about one run: its metric with the bootstrap interval as a bar, then the report's charts that
 * are about this run alone (titles ending in ": <run id>", e.g. self-consistency votes), then the report's
 * line charts (training curves) narrowed to this run's series.
 */
export function runCharts(run: ReportRun, charts: readonly ReportChart[]): ReportChart[] {
  const out: ReportChart[] = [];
  if (run.metric) {
    const { metric } = run;
    const percent = metric.name === "accuracy" || (metric.value >= 0 && metric.value <= 1);
    const bar: BarChartData = {
      kind: "bars",
      title: `${metric.name}${metric.interval ? ` with ${Math.round(100 * metric.interval.level)}% CI` : ""}: ${run.id}`,
      xLabel: "run",
      yLabel: metric.name,
      percent,
      bars: [
        {
          category: run.approach,
          group: run.kind,
          value: metric.value,
          ...(metric.interval ? { low: metric.interval.low, high: metric.interval.high } : {}),
        },
      ],
    };
    out.push(bar);
  }
  for (const chart of charts) {
    if (chart.title.endsWith(`: ${run.id}`)) out.push(chart);
    else if (chart.kind === "line") {
      const series = chart.series.filter((s) => s.name === run.id || s.name.startsWith(`${run.id} `));
      if (series.length > 0) out.push({ ...chart, series });
    }
  }
  return out;
}
