// The file `adaptlm compare` writes and `adaptlm report` reads: RUNDIR/compare.json, one table with a row per
// fine-tuning method and per prompting strategy, all measured on the same held-out test examples, plus the
// setup that produced it. It is rewritten atomically after every row, so a reader never sees half a file and an
// interrupted run resumes from the rows it holds. Bump COMPARE_REPORT_VERSION on any incompatible change.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AdaptlmError } from "../../errors.js";
import { writeFileAtomic } from "../../io/atomic-file.js";

export const COMPARE_REPORT_VERSION = 1;
export const COMPARE_FILE = "compare.json";

export class CompareError extends AdaptlmError {}

/** Accuracy on the test examples with its 95% percentile-bootstrap interval (src/eval/bootstrap.ts). */
export interface CompareMetric {
  name: "accuracy";
  value: number;
  low: number;
  high: number;
  /** Coverage of [low, high], 0.95. */
  level: number;
  correct: number;
  total: number;
}

/** One test example's outcome; the same ids, in the same order, in every finished row. */
export interface ExampleOutcome {
  id: string;
  correct: boolean;
  /** The predicted label / extracted answer (null where none was found). */
  answer: string | null;
}

export interface CompareRow {
  /** The method ("lora") or the strategy as requested ("few-shot:4"). */
  name: string;
  kind: "method" | "strategy";
  /** "skipped": the strategy does not fit the task (see skipReason); its numbers are null. */
  status: "done" | "skipped";
  skipReason?: string;
  metric: CompareMetric | null;
  /** Parameters trained for the task (0 for prompting). */
  trainableParameters: number | null;
  /** Fine-tuning: the backbone + head parameters the method starts from; prompting: null. */
  baseParameters: number | null;
  /**
   * Bytes stored per task. Fine-tuning: adapter_config.json + adapter_model.safetensors (or the whole model's
   * safetensors for full fine-tuning). Prompting: the mean UTF-8 bytes of the first prompt of each example
   * minus those of the example's own input, i.e. the template, instruction and demonstrations.
   */
  storedBytes: number | null;
  /**
   * Fine-tuning: training wall time (of the last process only, when an interrupted training was resumed from
   * its checkpoint); APE: instruction search time; other strategies 0.
   */
  trainingSeconds: number | null;
  /** Wall time of answering the test examples, per example (prompting: summed over resumed runs). */
  inferenceSecondsPerExample: number | null;
  /**
   * Tokens processed per test example: encoder input tokens (+ the virtual tokens of prefix / prompt tuning),
   * or LM prompt + completion tokens.
   */
  tokensPerExample: number | null;
  promptTokensPerExample: number | null;
  completionTokensPerExample: number | null;
  /** Money for answering the test examples (+ APE's search), when prices were given; else null. */
  cost: number | null;
  /** Tokens the instruction search used (APE), not counted in tokensPerExample. */
  setupTokens?: number;
  /** Where the row's artefacts are, relative to RUNDIR (adapter folder, or results-store run folder). */
  artifacts: string | null;
  /** The test outcomes, in test order (empty when skipped). */
  examples: ExampleOutcome[];
  finishedAt: string;
}

/**
 * What defines a comparison: resuming requires an equal setup; the row list may grow, and an encoder or lm
 * section recorded as null may be filled in by a later run that adds method or strategy rows.
 */
export interface CompareSetup {
  /** The task (file or folder): absolute, or relative to the comparison folder when it lies inside it. */
  task: string;
  /** A hash of the split files under data/ (absent in older folders): the task's identity on resume. */
  data?: string;
  /** How the test split was made: the folder's test (or validation) file, or a seeded split of one file. */
  split: { kind: "folder"; test: "test" | "validation" } | { kind: "seeded"; testFraction: number };
  fields: { text: string; label: string };
  trainExamples: number;
  validationExamples: number;
  testExamples: number;
  labels: string[];
  seed: number;
  /** The method rows' encoder folder (absolute, or relative to the comparison folder inside it) and training options; null until a run has methods. */
  encoder: {
    folder: string;
    maxSteps: number | null;
    epochs: number | null;
    batchSize: number;
    /** null: each method's default (DEFAULT_LEARNING_RATES). */
    learningRate: number | null;
    /** Input tokens kept; prefix and prompt tuning keep 20 fewer where the position table needs the room. */
    maxLength: number;
  } | null;
  /** The strategy rows' LM (a local folder / .bin, or a model served at endpoint); null until a run has strategies. */
  lm: {
    model: string;
    endpoint: string | null;
    /** Self-consistency paths. */
    samples: number;
    /** The instruction of the "instructions" strategy. */
    instruction: string;
    /** Money per million tokens, when given. */
    prices: { inputPerMillion: number; outputPerMillion: number } | null;
  } | null;
  bootstrap: { samples: number; level: number; seed: number };
}

export interface CompareReport {
  version: typeof COMPARE_REPORT_VERSION;
  setup: CompareSetup;
  /** Requested order; rows of earlier runs that are no longer requested are kept after them. */
  rows: CompareRow[];
  startedAt: string;
  updatedAt: string;
}

/** The row of a strategy that cannot run on this task, with the reason. */
export function skippedRow(name: string, reason: string): CompareRow {
  return {
    name,
    kind: "strategy",
    status: "skipped",
    skipReason: reason,
    metric: null,
    trainableParameters: null,
    baseParameters: null,
    storedBytes: null,
    trainingSeconds: null,
    inferenceSecondsPerExample: null,
    tokensPerExample: null,
    promptTokensPerExample: null,
    completionTokensPerExample: null,
    cost: null,
    artifacts: null,
    examples: [],
    finishedAt: new Date().toISOString(),
  };
}

export function writeCompareReport(dir: string, report: CompareReport): void {
  writeFileAtomic(join(dir, COMPARE_FILE), `${JSON.stringify(report, null, 2)}\n`);
}

/** The report in dir, or null when there is none; typed errors for a malformed or newer file. */
export function readCompareReport(dir: string): CompareReport | null {
  const path = join(dir, COMPARE_FILE);
  if (!existsSync(path)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new CompareError(
      "COMPARE_BAD_FILE",
      `${path} is not valid JSON (${(error as Error).message}): remove it or choose another --out`,
    );
  }
  const version = (parsed as { version?: unknown } | null)?.version;
  if (version !== COMPARE_REPORT_VERSION) {
    throw new CompareError(
      "COMPARE_VERSION",
      `${path} has version ${JSON.stringify(version)}; this adaptlm reads version ${COMPARE_REPORT_VERSION}: choose another --out`,
    );
  }
  return parsed as CompareReport;
}
