// The results store of one run: a folder holding `run.json` (the setup: model/endpoint, task file, strategy,
// options, seed, start/finish times and the metric; rewritten atomically) and `examples.jsonl` (one line per
// example, appended as each one finishes: input, prompts, raw outputs, extracted answers, votes, gold,
// correct). Append-only and resumable: opening an existing run folder with the same setup reads back what is
// recorded, so a re-run skips those examples; a line cut off by a crash mid-append is dropped on open.

import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AdaptlmError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic-file.js";
import { stableStringify } from "../lm/language-model.js";

export class ResultsStoreError extends AdaptlmError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** What defines a run: a folder is resumed only with an equal setup. */
export interface RunSetup {
  /** The model name (for a server, the `model` field sent). */
  model: string;
  /** The server URL, or undefined for a local model or replay. */
  endpoint?: string;
  taskFile: string;
  strategy: string;
  /** Every option that changes prompts or answers (k, samples, temperature, label perturbation, fields...). */
  options: Record<string, unknown>;
  seed: number;
}

export interface RunMetric {
  name: "accuracy";
  value: number;
  correct: number;
  total: number;
}

/** Contents of run.json. */
export interface RunInfo extends RunSetup {
  runId: string;
  startedAt: string;
  /** Set when a pass over the task completes (updated by each resumed pass). */
  finishedAt?: string;
  metric?: RunMetric;
}

export interface VoteRecord {
  answer: string;
  count: number;
  weight: number;
}

/** One line of examples.jsonl. */
export interface ExampleRecord {
  /** Position in the task file (0-based). */
  index: number;
  /** The example's id (from the task, else its index as a string): the resume key. */
  id: string;
  input: string;
  /** Every prompt sent for this example, in order. */
  prompts: string[];
  /** Every raw model output, in order. */
  outputs: string[];
  /** Extracted answer per output or path (null where none was found). */
  answers: Array<string | null>;
  /** The final answer (majority for self-consistency); null where none was found. */
  answer: string | null;
  votes?: VoteRecord[];
  /** Classification by log-likelihood: the candidate continuations and their logprobs (null = not ranked). */
  candidates?: string[];
  logprobs?: Array<number | null>;
  gold: string;
  correct: boolean;
}

export const RUN_FILE = "run.json";
export const EXAMPLES_FILE = "examples.jsonl";

export class ResultsStore {
  readonly dir: string;
  private info: RunInfo;
  private readonly records = new Map<string, ExampleRecord>();

  private constructor(dir: string, info: RunInfo, records: ExampleRecord[]) {
    this.dir = dir;
    this.info = info;
    for (const record of records) this.records.set(record.id, record);
  }

  /**
   * Opens the run folder `dir` (created if missing). An existing run must have an equal setup, else
   * `ResultsStoreError` RESULTS_SETUP_MISMATCH (use another folder or run id).
   */
  static open(dir: string, runId: string, setup: RunSetup, now: () => Date = () => new Date()): ResultsStore {
    mkdirSync(dir, { recursive: true });
    const runPath = join(dir, RUN_FILE);
    const examplesPath = join(dir, EXAMPLES_FILE);
    if (!existsSync(runPath)) {
      const info: RunInfo = { runId, ...setup, startedAt: now().toISOString() };
      writeFileAtomic(runPath, `${JSON.stringify(info, null, 2)}\n`);
      // a stale examples file without run.json cannot be trusted to match this setup
      writeFileAtomic(examplesPath, "");
      return new ResultsStore(dir, info, []);
    }
    let existing: RunInfo;
    try {
      existing = JSON.parse(readFileSync(runPath, "utf8")) as RunInfo;
    } catch (error) {
      throw new ResultsStoreError(
        "RESULTS_BAD_RUN_FILE",
        `${runPath} is not valid JSON (${(error as Error).message}): remove the folder or choose another --out`,
      );
    }
    const differences = setupDifferences(existing, setup);
    if (differences.length > 0) {
      throw new ResultsStoreError(
        "RESULTS_SETUP_MISMATCH",
        `${dir} holds a run with a different setup (${differences.join("; ")}): ` +
          "resume with the same options, or write to another --out / --run-id",
      );
    }
    return new ResultsStore(dir, existing, readExamples(examplesPath));
  }

  get runInfo(): RunInfo {
    return { ...this.info };
  }

  /** The record of example `id`, if this run has one. */
  recorded(id: string): ExampleRecord | undefined {
    return this.records.get(id);
  }

  /** Every recorded example, in task order. */
  examples(): ExampleRecord[] {
    return [...this.records.values()].sort((a, b) => a.index - b.index);
  }

  /** Appends one example (one line, written with a single append). Recording an id twice is an error. */
  append(record: ExampleRecord): void {
    if (this.records.has(record.id)) {
      throw new ResultsStoreError(
        "RESULTS_DUPLICATE_EXAMPLE",
        `example "${record.id}" is already recorded in ${this.dir}: example ids must be unique in the task`,
      );
    }
    appendFileSync(join(this.dir, EXAMPLES_FILE), `${JSON.stringify(record)}\n`);
    this.records.set(record.id, record);
  }

  /** Records the metric and the finish time in run.json (atomically). */
  finish(metric: RunMetric, now: () => Date = () => new Date()): RunInfo {
    this.info = { ...this.info, finishedAt: now().toISOString(), metric };
    writeFileAtomic(join(this.dir, RUN_FILE), `${JSON.stringify(this.info, null, 2)}\n`);
    return this.runInfo;
  }
}

function setupDifferences(existing: RunInfo, setup: RunSetup): string[] {
  const out: string[] = [];
  const keys: Array<keyof RunSetup> = ["model", "endpoint", "taskFile", "strategy", "options", "seed"];
  for (const key of keys) {
    const before = stableStringify(existing[key] ?? null);
    const now = stableStringify(setup[key] ?? null);
    if (before !== now) out.push(`${key}: recorded ${before}, now ${now}`);
  }
  return out;
}

/** Complete lines of examples.jsonl; a final line without its newline (a crash mid-append) is cut off. */
function readExamples(path: string): ExampleRecord[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, "utf8");
  const end = text.lastIndexOf("\n") + 1;
  if (end < text.length) writeFileAtomic(path, text.slice(0, end));
  const records: ExampleRecord[] = [];
  text
    .slice(0, end)
    .split("\n")
    .forEach((line, n) => {
      if (line.trim() === "") return;
      try {
        records.push(JSON.parse(line) as ExampleRecord);
      } catch (error) {
        throw new ResultsStoreError(
          "RESULTS_BAD_EXAMPLE_LINE",
          `${path}:${n + 1} is not valid JSON (${(error as Error).message}): fix or remove that line to resume`,
        );
      }
    });
  return records;
}
