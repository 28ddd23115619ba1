// Builds the report model (report-input.ts) from folders on disk: a results folder holding many runs, or one
// run folder. It reads, never writes (a ResultsStore.open would repair files; a report must not touch them).
// Recognised folders:
//   prompt run       run.json + examples.jsonl (src/eval/results-store.ts)
//   train run        what `adaptlm train` writes: eval_log.jsonl, checkpoint/trainer_state.json, adapter/ (PEFT
//                    folder) or model/; plus, where present, train_run.json (the TrainRunResult, optionally
//                    with the options under "options") for the per-step training losses, and
//                    test_predictions.jsonl (`adaptlm compare`) for test accuracy with an interval
//   adapter folder   adapter_config.json + adapter_model.safetensors alone (cost only, no metric)
//   comparison       compare.json in any visited folder (written by `adaptlm compare`); the folders its rows
//                    name as artefacts are linked to their row, so each result is plotted once
// Anything else is listed under `skipped` with the reason, never an exception: one broken run must not hide
// the others. Secrets never pass: option keys that name credentials are redacted, endpoints lose user info
// and query strings.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import {
  ADAPTER_CONFIG_FILE,
  checkpointParameterCount,
  resolveBaseModelDir,
  summarizeAdapter,
} from "../../peft/adapter-store.js";
import { accuracyInterval } from "../../train/bootstrap.js";
import {
  EXPERIMENT_RESULT_FILE,
  isExperimentResult,
  readExperimentSection,
} from "../experiments/report-section.js";
import { EXAMPLES_FILE, type ExampleRecord, RUN_FILE, type RunInfo } from "../results-store.js";
import { COMPARE_FILE, readComparison } from "./comparison-file.js";
import { redactOptions, safeEndpoint } from "./redact.js";
import {
  checkReportInput,
  REPORT_INPUT_VERSION,
  type ReportChart,
  type ReportCost,
  type ReportExample,
  type ReportExampleSection,
  type ReportInput,
  ReportInputError,
  type ReportMetric,
  type ReportRun,
  type ReportTable,
  type ScatterPoint,
  type SkippedEntry,
} from "./report-input.js";
import { buildRunCharts, type TrainCurves, voteAgreementChart } from "./run-charts.js";

export const TRAIN_RUN_FILE = "train_run.json";
export const EVAL_LOG_FILE = "eval_log.jsonl";
/** Per test example {id, correct, answer, gold}: written by `adaptlm compare` into its training run folders. */
export const TEST_PREDICTIONS_FILE = "test_predictions.jsonl";
/** Token totals of a prompt run ({answered, promptTokens, completionTokens, ...}), from `adaptlm compare`. */
export const USAGE_FILE = "usage.json";

export interface LoadReportOptions {
  title?: string;
  /** Examples shown per run in the browser (default 20). */
  maxExamples?: number;
  /** Bootstrap resamples for the intervals (default 1000). */
  bootstrapSamples?: number;
  /** Bootstrap seed (default 0): the same folder gives the same intervals every time. */
  seed?: number;
  /** Interval coverage (default 0.95). */
  level?: number;
  /** Folder levels searched below the given folder (default 4). */
  maxDepth?: number;
}

/** Longest text shown per prompt or output in the example browser. */
const MAX_TEXT_CHARS = 20_000;
const CHARS_PER_TOKEN = 4;

interface Collector {
  root: string;
  options: Required<Omit<LoadReportOptions, "title">>;
  runs: ReportRun[];
  tables: ReportTable[];
  examples: ReportExampleSection[];
  skipped: SkippedEntry[];
  curves: TrainCurves[];
  voteCharts: ReportChart[];
  comparisonCharts: ReportChart[];
  comparisonSpecialists: ScatterPoint[];
  comparisonGeneralists: ScatterPoint[];
  /** Folders that are a comparison row's artefacts (absolute path -> "row X of comparison Y"). */
  comparisonArtifacts: Map<string, { row: string; comparison: string; task?: string }>;
}

/**
 * The report model of `path`: a folder of runs (searched recursively), a single run folder, or a JSON file
 * holding a ReportInput. Errors: ReportInputError REPORT_SOURCE_MISSING (no such path), REPORT_NOTHING_FOUND
 * (no run or comparison anywhere below it; the message lists what was skipped and why).
 */
export function loadReportInput(path: string, options: LoadReportOptions = {}): ReportInput {
  if (!existsSync(path)) {
    throw new ReportInputError(
      "REPORT_SOURCE_MISSING",
      `${path} does not exist: give a results folder (holding run folders) or one run folder`,
    );
  }
  if (statSync(path).isFile()) {
    if (!path.endsWith(".json")) {
      throw new ReportInputError(
        "REPORT_SOURCE_NOT_FOLDER",
        `${path} is a file: give a results folder, a run folder, or a report input .json`,
      );
    }
    const input = checkReportInput(readJson(path));
    return options.title === undefined ? input : { ...input, title: options.title };
  }
  const collector: Collector = {
    root: resolve(path),
    options: {
      maxExamples: options.maxExamples ?? 20,
      bootstrapSamples: options.bootstrapSamples ?? 1000,
      seed: options.seed ?? 0,
      level: options.level ?? 0.95,
      maxDepth: options.maxDepth ?? 4,
    },
    runs: [],
    tables: [],
    examples: [],
    skipped: [],
    curves: [],
    voteCharts: [],
    comparisonCharts: [],
    comparisonSpecialists: [],
    comparisonGeneralists: [],
    comparisonArtifacts: new Map(),
  };
  visit(collector, collector.root, 0);
  if (collector.runs.length === 0 && collector.tables.length === 0) {
    const reasons = collector.skipped.map((s) => `${s.path}: ${s.reason}`).join("; ");
    throw new ReportInputError(
      "REPORT_NOTHING_FOUND",
      `no run found in ${path}${reasons ? ` (skipped ${reasons})` : ""}: a prompt run holds ${RUN_FILE} + ` +
        `${EXAMPLES_FILE}, a train run ${EVAL_LOG_FILE} or adapter/, a comparison ${COMPARE_FILE}`,
    );
  }
  return {
    version: REPORT_INPUT_VERSION,
    title: options.title ?? `adaptlm report: ${basename(collector.root)}`,
    source: path,
    runs: collector.runs,
    tables: collector.tables,
    charts: buildRunCharts({ ...collector, level: collector.options.level }),
    examples: collector.examples,
    skipped: collector.skipped,
  };
}

type FolderKind = "prompt" | "train" | "adapter" | null;

function folderKind(dir: string): FolderKind {
  if (existsSync(join(dir, RUN_FILE))) return "prompt";
  if (
    existsSync(join(dir, TRAIN_RUN_FILE)) ||
    existsSync(join(dir, EVAL_LOG_FILE)) ||
    existsSync(join(dir, "checkpoint", "trainer_state.json")) ||
    existsSync(join(dir, "adapter", ADAPTER_CONFIG_FILE)) ||
    existsSync(join(dir, "model", "labels.json"))
  )
    return "train";
  if (existsSync(join(dir, ADAPTER_CONFIG_FILE))) return "adapter";
  return null;
}

function relativeName(collector: Collector, dir: string): string {
  return relative(collector.root, dir) || ".";
}

function runId(collector: Collector, dir: string): string {
  const rel = relative(collector.root, dir);
  return rel === "" ? basename(dir) : rel.split("\\").join("/");
}

function visit(collector: Collector, dir: string, depth: number): void {
  const rel = relativeName(collector, dir);
  // an experiment folder (adaptlm experiment): its tables and plot; its cells' runs are summarised there
  if (isExperimentResult(join(dir, EXPERIMENT_RESULT_FILE))) {
    guarded(collector, join(rel, EXPERIMENT_RESULT_FILE), () => {
      const section = readExperimentSection(
        join(dir, EXPERIMENT_RESULT_FILE),
        join(rel, EXPERIMENT_RESULT_FILE),
      );
      collector.tables.push(...section.tables);
      collector.comparisonCharts.push(section.chart);
    });
    return;
  }
  if (existsSync(join(dir, COMPARE_FILE)))
    guarded(collector, join(rel, COMPARE_FILE), () => loadComparison(collector, dir));
  const kind = folderKind(dir);
  const artifact = collector.comparisonArtifacts.get(dir);
  if (kind === "adapter" && artifact) {
    collector.skipped.push({
      path: rel,
      reason: `the adapter of row "${artifact.row}" of the comparison ${artifact.comparison} (shown in its table)`,
    });
    return;
  }
  if (kind !== null) {
    guarded(collector, rel, () => {
      if (kind === "prompt") loadPromptRun(collector, dir);
      else if (kind === "train") loadTrainRun(collector, dir);
      else loadAdapterOnly(collector, dir);
    });
    return;
  }
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch (error) {
    collector.skipped.push({ path: rel, reason: `cannot list the folder (${(error as Error).message})` });
    return;
  }
  let subfolders = 0;
  for (const entry of entries) {
    if (entry.startsWith(".")) continue; // temporary files of atomic writes, editor and VCS folders
    const child = join(dir, entry);
    let isDir = false;
    try {
      isDir = statSync(child).isDirectory();
    } catch {
      continue; // a dangling link or a file removed while listing
    }
    if (!isDir) continue;
    subfolders++;
    const childKind = folderKind(child);
    const hasCompare = existsSync(join(child, COMPARE_FILE));
    if (childKind === null && !hasCompare && depth + 1 >= collector.options.maxDepth) {
      collector.skipped.push({
        path: relativeName(collector, child),
        reason: "not a run folder (search depth reached)",
      });
      continue;
    }
    const before = collector.runs.length + collector.tables.length + collector.skipped.length;
    visit(collector, child, depth + 1);
    if (collector.runs.length + collector.tables.length + collector.skipped.length === before) {
      collector.skipped.push({
        path: relativeName(collector, child),
        reason: `not a run folder: no ${RUN_FILE} (prompt run), ${EVAL_LOG_FILE} / adapter/ (train run), ${ADAPTER_CONFIG_FILE} or ${COMPARE_FILE}`,
      });
    }
  }
  if (depth === 0 && subfolders === 0 && collector.tables.length === 0) {
    collector.skipped.push({ path: rel, reason: "an empty folder or one without run folders" });
  }
}

/** Runs `load`; a failure becomes a skipped entry with its message instead of ending the report. */
function guarded(collector: Collector, path: string, load: () => void): void {
  try {
    load();
  } catch (error) {
    collector.skipped.push({ path, reason: error instanceof Error ? error.message : String(error) });
  }
}

function readJson(path: string): unknown {
  const text = readFileSync(path, "utf8");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ReportInputError("REPORT_BAD_JSON", `${path} is not valid JSON (${(error as Error).message})`);
  }
}

/** JSON lines, skipping a final line cut off by a crash mid-append (as the results store does on open). */
function readJsonLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, "utf8");
  const complete = text.slice(0, text.lastIndexOf("\n") + 1);
  const out: T[] = [];
  complete.split("\n").forEach((line, n) => {
    if (line.trim() === "") return;
    try {
      out.push(JSON.parse(line) as T);
    } catch (error) {
      throw new ReportInputError(
        "REPORT_BAD_JSON",
        `${path}:${n + 1} is not valid JSON (${(error as Error).message})`,
      );
    }
  });
  return out;
}

// ------------------------------------------------------------------------------------------- prompt runs

interface RecordUsage {
  promptTokens?: number;
  completionTokens?: number;
}

/** Token totals metered over a run's answered examples (`adaptlm compare` writes them next to the run). */
interface RunUsage {
  answered: number;
  promptTokens: number;
  completionTokens: number;
}

/** usage.json when it holds usable totals, else null (absent or malformed: the estimate stands). */
function readUsage(path: string): RunUsage | null {
  if (!existsSync(path)) return null;
  try {
    const usage = JSON.parse(readFileSync(path, "utf8")) as Partial<RunUsage>;
    const ok = [usage.answered, usage.promptTokens, usage.completionTokens].every(
      (v) => typeof v === "number" && Number.isFinite(v) && v >= 0,
    );
    return ok && (usage.answered as number) > 0 ? (usage as RunUsage) : null;
  } catch {
    return null;
  }
}

function loadPromptRun(collector: Collector, dir: string): void {
  const info = readJson(join(dir, RUN_FILE)) as Partial<RunInfo>;
  if (typeof info !== "object" || info === null || typeof info.strategy !== "string") {
    throw new ReportInputError(
      "REPORT_BAD_RUN",
      `${join(dir, RUN_FILE)} is not a prompt run's run.json (no strategy)`,
    );
  }
  const records = readJsonLines<ExampleRecord & { usage?: RecordUsage }>(join(dir, EXAMPLES_FILE)).sort(
    (a, b) => a.index - b.index,
  );
  const id = runId(collector, dir);
  const notes: string[] = [];
  let metric: ReportMetric | undefined;
  if (records.length > 0) {
    metric = accuracyMetric(
      collector,
      records.map((r) => r.correct === true),
    );
    if (!info.finishedAt)
      notes.push(`unfinished run: accuracy over the ${records.length} recorded example(s)`);
  } else if (info.metric) {
    metric = {
      name: info.metric.name,
      value: info.metric.value,
      correct: info.metric.correct,
      total: info.metric.total,
    };
    notes.push(`${EXAMPLES_FILE} is empty: metric from ${RUN_FILE}, no interval`);
  } else notes.push("no example recorded yet");

  const cost: ReportCost = { trainableParameters: 0 };
  if (records.length > 0) {
    const measured = records.every(
      (r) => typeof r.usage?.promptTokens === "number" && typeof r.usage?.completionTokens === "number",
    );
    const tokens = records.map((r) =>
      measured
        ? (r.usage?.promptTokens ?? 0) + (r.usage?.completionTokens ?? 0)
        : Math.ceil(
            ((r.prompts ?? []).join("").length + (r.outputs ?? []).join("").length) / CHARS_PER_TOKEN,
          ),
    );
    cost.tokensPerExample = mean(tokens);
    cost.tokensEstimated = !measured;
    cost.callsPerExample = mean(records.map((r) => (r.prompts ?? []).length));
    const metered = measured ? null : readUsage(join(dir, USAGE_FILE));
    if (metered) {
      cost.tokensPerExample = (metered.promptTokens + metered.completionTokens) / metered.answered;
      cost.tokensEstimated = false;
    }
  }
  if (info.startedAt && info.finishedAt) {
    const seconds = (Date.parse(info.finishedAt) - Date.parse(info.startedAt)) / 1000;
    if (Number.isFinite(seconds) && seconds >= 0) cost.seconds = seconds;
  }

  const run: ReportRun = {
    id,
    kind: "prompt",
    path: relativeName(collector, dir),
    model: String(info.model ?? "unknown"),
    task: String(info.taskFile ?? "unknown"),
    approach: info.strategy,
    options: redactOptions(info.options ?? {}) as Record<string, unknown>,
    cost,
  };
  if (info.endpoint) run.endpoint = safeEndpoint(info.endpoint);
  if (typeof info.seed === "number") run.seed = info.seed;
  if (info.startedAt) run.startedAt = info.startedAt;
  if (info.finishedAt) run.finishedAt = info.finishedAt;
  if (metric) run.metric = metric;
  if (notes.length > 0) run.notes = notes;
  markComparison(collector, dir, run);
  collector.runs.push(run);

  collector.examples.push({
    runId: id,
    total: records.length,
    examples: records.slice(0, collector.options.maxExamples).map(toReportExample),
  });
  const votes = voteAgreementChart(id, records);
  if (votes) collector.voteCharts.push(votes);
}

/** Accuracy with its seeded bootstrap interval from per-example correctness. */
function accuracyMetric(collector: Collector, correct: boolean[]): ReportMetric {
  const interval = accuracyInterval(correct, {
    samples: collector.options.bootstrapSamples,
    seed: collector.options.seed,
    level: collector.options.level,
  });
  return {
    name: "accuracy",
    value: interval.value,
    correct: correct.filter(Boolean).length,
    total: correct.length,
    interval: { low: interval.low, high: interval.high, level: interval.level },
  };
}

interface TestPrediction {
  id?: string;
  correct?: boolean;
  answer?: string | null;
  gold?: string;
}

/** A run that is a comparison row's artefact is marked so (its row already stands for it in the plots). */
function markComparison(collector: Collector, dir: string, run: ReportRun): void {
  const artifact =
    collector.comparisonArtifacts.get(dir) ??
    collector.comparisonArtifacts.get(join(dir, "adapter")) ??
    collector.comparisonArtifacts.get(join(dir, "model"));
  if (!artifact) return;
  run.comparison = `${artifact.comparison}: ${artifact.row}`;
  // a comparison row trains on the comparison's own split of the task (RUNDIR/data/train.jsonl): the task the
  // user named is the one in the comparison's setup
  if (artifact.task !== undefined) run.task = artifact.task;
}

function clip(text: unknown): string {
  const value = typeof text === "string" ? text : text === null || text === undefined ? "" : String(text);
  if (value.length <= MAX_TEXT_CHARS) return value;
  return `${value.slice(0, MAX_TEXT_CHARS)}… (${value.length - MAX_TEXT_CHARS} more characters)`;
}

function toReportExample(record: ExampleRecord): ReportExample {
  const example: ReportExample = {
    index: record.index,
    id: String(record.id),
    input: clip(record.input),
    prompts: (record.prompts ?? []).map(clip),
    outputs: (record.outputs ?? []).map(clip),
    answers: (record.answers ?? []).map((a) => (a === null ? null : clip(a))),
    answer: record.answer === null || record.answer === undefined ? null : clip(record.answer),
    gold: clip(record.gold),
    correct: record.correct === true,
  };
  if (record.votes) example.votes = record.votes.map((v) => ({ answer: clip(v.answer), count: v.count }));
  return example;
}

// -------------------------------------------------------------------------------------------- train runs

interface TrainRunFile {
  method?: string;
  labels?: string[];
  trainExamples?: number;
  evalExamples?: number;
  steps?: number;
  trainableParameters?: number;
  baseParameters?: number;
  percentOfBase?: number;
  stepLosses?: number[];
  evaluations?: { step: number; metrics: Record<string, number> }[];
  finalMetrics?: Record<string, number>;
  storedBytes?: number;
  seconds?: number;
  /** The run's options (TrainRunOptions without callbacks), or under "result" the numbers. */
  options?: Record<string, unknown>;
  result?: TrainRunFile;
}

const PEFT_TYPE_METHODS: Record<string, string> = {
  LORA: "lora",
  BITFIT: "bitfit",
  HOULSBY: "houlsby",
  ADAPTER_BIAS: "adapter-bias",
  PREFIX_TUNING: "prefix",
  PROMPT_TUNING: "prompt",
};

function methodOfPeftType(peftType: string): string {
  return PEFT_TYPE_METHODS[peftType.toUpperCase()] ?? peftType.toLowerCase();
}

function loadTrainRun(collector: Collector, dir: string): void {
  const id = runId(collector, dir);
  const notes: string[] = [];
  const file = existsSync(join(dir, TRAIN_RUN_FILE))
    ? (readJson(join(dir, TRAIN_RUN_FILE)) as TrainRunFile)
    : null;
  const result: TrainRunFile = { ...(file ?? {}), ...(file?.result ?? {}) };
  const runOptions = (file?.options ?? {}) as Record<string, unknown>;
  const logged = readJsonLines<{ step: number; metrics: Record<string, number> }>(join(dir, EVAL_LOG_FILE));
  const evaluations = logged.length > 0 ? logged : (result.evaluations ?? []);
  const cost: ReportCost = {};
  let model = typeof runOptions.model === "string" ? runOptions.model : undefined;
  let method = result.method ?? (typeof runOptions.method === "string" ? runOptions.method : undefined);

  const adapterDir = join(dir, "adapter");
  const modelDir = join(dir, "model");
  if (existsSync(join(adapterDir, ADAPTER_CONFIG_FILE))) {
    try {
      const summary = summarizeAdapter(adapterDir);
      method ??= methodOfPeftType(summary.peftType);
      model ??= summary.baseModel ?? undefined;
      cost.storedBytes = summary.bytes;
      cost.trainableParameters = summary.parameters;
      if (result.trainableParameters === undefined) {
        const base = resolveBaseModelDir(adapterDir, summary.baseModel);
        if (base) cost.percentOfBase = (100 * summary.parameters) / checkpointParameterCount(base);
      }
    } catch (error) {
      notes.push(`adapter/ could not be read (${(error as Error).message})`);
    }
  } else if (existsSync(join(modelDir, "model.safetensors"))) {
    method ??= "full";
    try {
      cost.storedBytes = statSync(join(modelDir, "model.safetensors")).size;
      cost.trainableParameters = checkpointParameterCount(modelDir);
      cost.percentOfBase = 100;
    } catch (error) {
      notes.push(`model/ could not be read (${(error as Error).message})`);
    }
  }
  // The run's own numbers are exact (the adapter folder may also hold e.g. a classifier head).
  if (result.trainableParameters !== undefined) cost.trainableParameters = result.trainableParameters;
  if (result.percentOfBase !== undefined) cost.percentOfBase = result.percentOfBase;
  if (result.storedBytes !== undefined) cost.storedBytes = result.storedBytes;
  if (result.seconds !== undefined) cost.seconds = result.seconds;

  let metric: ReportMetric | undefined;
  const predictions = readJsonLines<TestPrediction>(join(dir, TEST_PREDICTIONS_FILE));
  const final = evaluations.at(-1)?.metrics ?? result.finalMetrics ?? {};
  const metricName = final.accuracy !== undefined ? "accuracy" : Object.keys(final).find((k) => k !== "loss");
  if (predictions.length > 0) {
    metric = accuracyMetric(
      collector,
      predictions.map((p) => p.correct === true),
    );
    notes.push(`accuracy on the test examples of ${TEST_PREDICTIONS_FILE}`);
    collector.examples.push({
      runId: id,
      total: predictions.length,
      examples: predictions.slice(0, collector.options.maxExamples).map((p, index) => ({
        index,
        id: String(p.id ?? index),
        input: "",
        prompts: [],
        outputs: [],
        answers: [],
        answer: p.answer === null || p.answer === undefined ? null : clip(p.answer),
        gold: clip(p.gold),
        correct: p.correct === true,
      })),
    });
  } else if (metricName !== undefined && Number.isFinite(final[metricName])) {
    metric = { name: metricName, value: final[metricName] as number };
    if (result.evalExamples) metric.total = result.evalExamples;
    notes.push(
      "validation metric of the last evaluation; no per-example predictions: no confidence interval",
    );
  } else notes.push(`no evaluation with a task metric (${EVAL_LOG_FILE} missing or empty)`);
  if (!file) notes.push(`no ${TRAIN_RUN_FILE}: per-step training losses and the run's options are unknown`);

  const run: ReportRun = {
    id,
    kind: "train",
    path: relativeName(collector, dir),
    model: model ?? "unknown",
    task: typeof runOptions.train === "string" ? runOptions.train : "unknown",
    approach: method ?? "unknown",
    options: redactOptions(
      Object.fromEntries(
        Object.entries(runOptions).filter(
          ([key]) => !["model", "train", "method", "seed", "onEvent"].includes(key),
        ),
      ),
    ) as Record<string, unknown>,
    cost,
  };
  if (typeof runOptions.seed === "number") run.seed = runOptions.seed;
  if (metric) run.metric = metric;
  if (notes.length > 0) run.notes = notes;
  markComparison(collector, dir, run);
  collector.runs.push(run);
  collector.curves.push({
    runId: id,
    stepLosses: (result.stepLosses ?? []).map((y, i) => ({ x: i + 1, y })),
    evalLoss: evaluations
      .filter((e) => Number.isFinite(e.metrics.loss))
      .map((e) => ({ x: e.step, y: e.metrics.loss as number })),
    evalAccuracy: evaluations
      .filter((e) => Number.isFinite(e.metrics.accuracy))
      .map((e) => ({ x: e.step, y: e.metrics.accuracy as number })),
  });
}

function loadAdapterOnly(collector: Collector, dir: string): void {
  const summary = summarizeAdapter(dir);
  const cost: ReportCost = { trainableParameters: summary.parameters, storedBytes: summary.bytes };
  const base = resolveBaseModelDir(dir, summary.baseModel);
  if (base) cost.percentOfBase = (100 * summary.parameters) / checkpointParameterCount(base);
  collector.runs.push({
    id: runId(collector, dir),
    kind: "train",
    path: relativeName(collector, dir),
    model: summary.baseModel ?? "unknown",
    task: summary.taskType ?? "unknown",
    approach: methodOfPeftType(summary.peftType),
    options: {},
    cost,
    notes: ["an adapter folder without a training log: cost only, no metric"],
  });
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

function loadComparison(collector: Collector, dir: string): void {
  const rel = relativeName(collector, dir);
  const label = rel === "." ? basename(dir) : rel;
  const section = readComparison(join(dir, COMPARE_FILE), label, join(rel, COMPARE_FILE));
  collector.tables.push(section.table);
  if (section.chart) collector.comparisonCharts.push(section.chart);
  collector.comparisonSpecialists.push(...section.specialists);
  collector.comparisonGeneralists.push(...section.generalists);
  for (const { row, path } of section.artifacts) {
    collector.comparisonArtifacts.set(resolve(dir, path), {
      row,
      comparison: label,
      ...(section.task !== undefined ? { task: section.task } : {}),
    });
  }
}
