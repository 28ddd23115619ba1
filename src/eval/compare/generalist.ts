// A prompting row of the comparison: answer every test example with one strategy through the LanguageModel
// stack, recording prompts, outputs and answers in a results store (RUNDIR/prompt/<strategy>/), so an
// interrupted row resumes per example. The strategies of `adaptlm prompt` run through runPromptEvaluation;
// "instructions" (an instruction, no demonstrations) and "ape" (the instruction APE finds on the train split)
// classify with the same template and few-shot machinery. Demonstrations and APE's search data come from the
// train split only; tokens and money are metered per row.

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { writeFileAtomic } from "../../io/atomic-file.js";
import type { LanguageModel } from "../../lm/language-model.js";
import { type ModelPrice, UsageMeter } from "../../lm/usage-meter.js";
import { ApeError, searchInstructions } from "../../prompting/ape.js";
import { classifyFewShot } from "../../prompting/few-shot.js";
import type { PromptTemplate } from "../../prompting/template.js";
import { accuracyInterval } from "../../train/bootstrap.js";
import {
  CLASSIFICATION_TEMPLATE,
  inferAnswerType,
  type PromptStrategy,
  type PromptTaskExample,
  promptRunSetupOptions,
  runPromptEvaluation,
} from "../prompt-run.js";
import { type ExampleRecord, ResultsStore, type RunSetup } from "../results-store.js";
import { type CompareRow, type ExampleOutcome, skippedRow } from "./report.js";
import { rowFolderName, type StrategySpec } from "./row-specs.js";
import { storedPath, withRecordedPaths } from "./stored-paths.js";
import type { TaskExample, TaskSplits } from "./task-splits.js";

export const DEFAULT_INSTRUCTION = "Read the input and answer with its label.";

export interface GeneralistOptions {
  lm: LanguageModel;
  /** The server URL, or null for a local model. */
  endpoint: string | null;
  splits: TaskSplits;
  spec: StrategySpec;
  runDir: string;
  seed: number;
  /** Self-consistency paths. */
  samples: number;
  /** The instruction of the "instructions" strategy. */
  instruction: string;
  price: ModelPrice | null;
  bootstrap: { samples: number; level: number; seed: number };
  onProgress?: (progress: { done: number; total: number; correct: number; resumed: number }) => void;
}

/** Why a strategy cannot run on this task, or null when it fits. */
export function strategyMismatch(spec: StrategySpec, splits: TaskSplits): string | null {
  const { train } = splits;
  if (spec.k > train.length)
    return `needs ${spec.k} demonstrations but the train split has ${train.length} examples`;
  const has = (test: (record: Record<string, unknown>) => boolean) => train.some((e) => test(e.record));
  if (
    (spec.strategy === "cot" || spec.strategy === "self-consistency") &&
    !has((r) => typeof r.rationale === "string")
  )
    return 'no train example has a "rationale" to show as a worked demonstration (use zero-shot-cot, or add rationales)';
  if (
    spec.strategy === "least-to-most" &&
    !has((r) => Array.isArray(r.subquestions) && r.subquestions.length > 0 && Array.isArray(r.steps))
  )
    return 'no train example has a decomposition ("subquestions" and "steps") to show: least-to-most needs them';
  if (spec.strategy === "zero-shot" || spec.strategy === "few-shot") {
    // prompt-run takes the candidates from the golds it is given, the query's included: a label train lacks
    // would be offered to that example alone and give its answer away.
    const known = new Set(splits.labels);
    const unseen = [...new Set(splits.test.map((e) => e.label).filter((label) => !known.has(label)))];
    if (unseen.length > 0)
      return `test labels ${JSON.stringify(unseen.slice(0, 5))} are not among the train labels, and offering them as candidates would give them away (the instructions strategy counts them as errors instead)`;
  }
  if (spec.strategy === "ape" && train.length < 2)
    return "APE needs at least 2 train examples (to induce instructions and to score them)";
  return null;
}

function promptExample(example: TaskExample, index: number, id: string): PromptTaskExample {
  const out: PromptTaskExample = { index, id, input: example.text, gold: example.label };
  const { record } = example;
  if (typeof record.rationale === "string") out.rationale = record.rationale;
  if (Array.isArray(record.subquestions)) out.subquestions = record.subquestions.map(String);
  if (Array.isArray(record.steps))
    out.steps = (record.steps as Array<Record<string, unknown>>).map((s) => ({
      question: String(s.question),
      answer: String(s.answer),
    }));
  return out;
}

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

function instructionTemplate(instruction: string): PromptTemplate {
  return {
    ...CLASSIFICATION_TEMPLATE,
    name: "compare/instruction",
    instruction: `${instruction}\n${CLASSIFICATION_TEMPLATE.instruction}`,
  };
}

/** RUNDIR/prompt/<strategy>/usage.json (read by `adaptlm report`): the metered usage of the row so far. */
export const ROW_USAGE_FILE = "usage.json";

export interface RowUsage {
  /** Examples answered (and metered) so far, over every run that resumed the row. */
  answered: number;
  seconds: number;
  promptTokens: number;
  completionTokens: number;
  cost: number;
}

interface ApeChoice {
  instruction: string;
  score: number;
  seconds: number;
  promptTokens: number;
  completionTokens: number;
  cost: number;
}

/** APE's instruction for this row: searched on the train split, or read back from a previous run. */
async function apeInstruction(options: GeneralistOptions, dir: string): Promise<ApeChoice> {
  const path = join(dir, "ape-instruction.json");
  if (existsSync(path)) return JSON.parse(readFileSync(path, "utf8")) as ApeChoice;
  const meter = new UsageMeter(options.price ? { prices: { [options.lm.model]: options.price } } : {});
  const lm = meter.wrap(options.lm);
  const pairs = options.splits.train.map((e) => ({ input: e.text, output: e.label }));
  // Half the train split induces instructions, the other half (at most 16 pairs) scores them.
  const half = Math.max(1, Math.floor(pairs.length / 2));
  const started = performance.now();
  const result = await searchInstructions(lm, {
    demonstrations: pairs.slice(0, half),
    dev: pairs.slice(half, half + 16),
    scoring: lm.capabilities.score ? "likelihood" : "execution",
    seed: options.seed,
  });
  const usage = meter.snapshot();
  const choice: ApeChoice = {
    instruction: result.best.instruction,
    score: result.best.score,
    seconds: (performance.now() - started) / 1000,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    cost: usage.cost,
  };
  writeFileAtomic(path, `${JSON.stringify(choice, null, 2)}\n`);
  return choice;
}

/** Answers the test split with the strategy (resuming from the store) and returns the finished row. */
export async function runGeneralistRow(options: GeneralistOptions): Promise<CompareRow> {
  const { spec, splits, lm: baseLm } = options;
  const dir = join(options.runDir, "prompt", rowFolderName(spec.name));
  mkdirSync(dir, { recursive: true });
  let ape: ApeChoice | null = null;
  if (spec.strategy === "ape") {
    try {
      ape = await apeInstruction(options, dir);
    } catch (error) {
      // A model that induces nothing usable cannot run APE on this task: a skipped row, not a failed run.
      if (error instanceof ApeError)
        return skippedRow(spec.name, `APE found no instruction: ${error.message}`);
      throw error;
    }
  }
  const instruction = spec.strategy === "instructions" ? options.instruction : (ape?.instruction ?? null);

  const meter = new UsageMeter(options.price ? { prices: { [baseLm.model]: options.price } } : {});
  const lm = meter.wrap(baseLm);
  const trainPool = splits.train.map((e, i) => promptExample(e, i, `train:${e.id}`));
  const answerType = inferAnswerType([...splits.train, ...splits.test].map((e) => e.label));
  const fields = { inputField: "text", labelField: "label" };
  const runStrategy: PromptStrategy =
    spec.strategy === "instructions" || spec.strategy === "ape" ? "zero-shot" : spec.strategy;
  const runOptions = {
    strategy: runStrategy,
    k: spec.k,
    samples: options.samples,
    ...(runStrategy === "zero-shot" || runStrategy === "few-shot" ? {} : { answerType }),
  };
  // The split files by their path in the comparison folder, so a moved folder resumes its rows.
  const testFile = storedPath(options.runDir, splits.files.test);
  const trainFile = storedPath(options.runDir, splits.files.train);
  const setup: RunSetup = {
    model: baseLm.model,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    taskFile: testFile,
    strategy: spec.strategy,
    options: {
      ...promptRunSetupOptions(runOptions, fields),
      demonstrationPool: trainFile,
      ...(instruction !== null ? { instruction } : {}),
    },
    seed: options.seed,
  };
  const store = ResultsStore.open(
    dir,
    `compare-${rowFolderName(spec.name)}`,
    withRecordedPaths(dir, setup, { taskFile: testFile, options: { demonstrationPool: trainFile } }),
  );
  const template = instruction !== null ? instructionTemplate(instruction) : null;

  // Usage of every example answered so far, across interrupted runs, so a resumed row reports all of it.
  const usagePath = join(dir, ROW_USAGE_FILE);
  const totals: RowUsage = existsSync(usagePath)
    ? (JSON.parse(readFileSync(usagePath, "utf8")) as RowUsage)
    : { answered: 0, seconds: 0, promptTokens: 0, completionTokens: 0, cost: 0 };
  let before = meter.snapshot();
  let started = performance.now();
  /** Adds the usage since the last call to the row's totals (one example was answered) and saves them. */
  const meterAnswered = (): void => {
    const after = meter.snapshot();
    totals.answered++;
    totals.seconds += (performance.now() - started) / 1000;
    totals.promptTokens += after.promptTokens - before.promptTokens;
    totals.completionTokens += after.completionTokens - before.completionTokens;
    totals.cost += after.cost - before.cost;
    writeFileAtomic(usagePath, `${JSON.stringify(totals)}\n`);
    before = after;
    started = performance.now();
  };
  const queries = splits.test.map((example, index) => promptExample(example, index, example.id));
  if (template) {
    let resumed = 0;
    let correct = 0;
    for (const [index, query] of queries.entries()) {
      if (store.recorded(query.id)) resumed++;
      else {
        before = meter.snapshot();
        started = performance.now();
        store.append(await classifyWithTemplate(lm, template, query, splits.labels));
        meterAnswered();
      }
      if (store.recorded(query.id)?.correct) correct++;
      options.onProgress?.({ done: index + 1, total: queries.length, correct, resumed });
    }
  } else {
    // The train split is the demonstration pool, so every demonstration comes from train; example i draws
    // its demonstrations with seed + i.
    let skipped = 0;
    await runPromptEvaluation(lm, queries, store, {
      ...runOptions,
      demonstrations: trainPool,
      seed: options.seed,
      onProgress: (progress) => {
        if (progress.skipped > skipped) {
          skipped = progress.skipped;
          started = performance.now();
        } else meterAnswered();
        options.onProgress?.({
          done: progress.done,
          total: progress.total,
          correct: progress.correct,
          resumed: progress.skipped,
        });
      },
    });
  }

  const records = splits.test.map((e) => store.recorded(e.id) as ExampleRecord);
  const outcomes: ExampleOutcome[] = records.map((r) => ({ id: r.id, correct: r.correct, answer: r.answer }));
  const flags = outcomes.map((o) => o.correct);
  const correct = flags.filter(Boolean).length;
  store.finish({ name: "accuracy", value: correct / flags.length, correct, total: flags.length });
  const interval = accuracyInterval(flags, options.bootstrap);
  const storedBytes =
    records.reduce((sum, r) => sum + Math.max(0, utf8Bytes(r.prompts[0] ?? "") - utf8Bytes(r.input)), 0) /
    records.length;
  // Per example over the examples metered (a run killed between recording and usage.json leaves one out).
  const perExample = (value: number) => (totals.answered > 0 ? value / totals.answered : null);
  const promptTokens = perExample(totals.promptTokens);
  const completionTokens = perExample(totals.completionTokens);
  const row: CompareRow = {
    name: spec.name,
    kind: "strategy",
    status: "done",
    metric: {
      name: "accuracy",
      value: interval.value,
      low: interval.low,
      high: interval.high,
      level: interval.level,
      correct,
      total: flags.length,
    },
    trainableParameters: 0,
    baseParameters: null,
    storedBytes,
    trainingSeconds: ape ? ape.seconds : 0,
    inferenceSecondsPerExample: perExample(totals.seconds),
    tokensPerExample:
      promptTokens !== null && completionTokens !== null ? promptTokens + completionTokens : null,
    promptTokensPerExample: promptTokens,
    completionTokensPerExample: completionTokens,
    cost: options.price ? totals.cost + (ape?.cost ?? 0) : null,
    artifacts: relative(options.runDir, dir),
    examples: outcomes,
    finishedAt: new Date().toISOString(),
  };
  if (ape) row.setupTokens = ape.promptTokens + ape.completionTokens;
  return row;
}

/** Zero-shot classification with an instruction template, recorded as prompt-run records its classifications. */
async function classifyWithTemplate(
  lm: LanguageModel,
  template: PromptTemplate,
  query: PromptTaskExample,
  labels: readonly string[],
): Promise<ExampleRecord> {
  const asExample = { id: query.id, fields: { input: query.input }, label: query.gold };
  const result = await classifyFewShot(lm, template, [], asExample, { labels, k: 0 });
  const predicted = result.result.label ?? null;
  const record: ExampleRecord = {
    index: query.index,
    id: query.id,
    input: query.input,
    prompts: [result.prompt],
    outputs: result.result.generated !== undefined ? [result.result.generated] : [],
    answers: [predicted],
    answer: predicted,
    gold: query.gold,
    correct: predicted === query.gold,
  };
  if (result.result.logprobs) {
    record.candidates = result.candidates.map((c) => c.continuation);
    record.logprobs = result.result.logprobs.map((v) => (Number.isFinite(v) ? v : null));
  }
  return record;
}
