// A results folder as the report meets it: two prompt runs written through the ResultsStore API (few-shot
// classification, 3 of 4 right, with a malicious input and a leaked key in a raw output; self-consistency,
// 5 of 5 right, with votes), two training runs written by the real Trainer on the toy BERT (LoRA with a
// train_run.json holding the step losses, BitFit with only what the trainer writes), a folder that is no run
// and a run folder with a broken run.json.

import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ExampleRecord, ResultsStore } from "../../../src/eval/results-store.js";
import { saveAdapter } from "../../../src/peft/adapter-store.js";
import { BitFitAdapter } from "../../../src/peft/bitfit.js";
import { LoraAdapter } from "../../../src/peft/lora.js";
import type { Adapter } from "../../../src/peft/method.js";
import { classificationMetrics } from "../../../src/train/task-metrics.js";
import { makeTempDir } from "../../io/temp-dir.js";
import { toyTrainer } from "../../train/toy-setup.js";

export const FAKE_API_KEY = "sk-test-report-4f9a2c7e1b8d6035";
export const MALICIOUS = "<script>alert(1)</script>";

const fixedClock = (iso: string) => () => new Date(iso);

function record(
  index: number,
  fields: Partial<ExampleRecord> & { gold: string; correct: boolean },
): ExampleRecord {
  return {
    index,
    id: `ex-${index}`,
    input: `input ${index}`,
    prompts: [`prompt ${index}`],
    outputs: [`output ${index}`],
    answers: [fields.gold],
    answer: fields.gold,
    ...fields,
  };
}

/** few-shot: 3 of 4 correct (75.0%). */
export function writeFewShotRun(dir: string): void {
  const store = ResultsStore.open(
    dir,
    "few-shot-run",
    {
      model: "gpt-test",
      endpoint: "https://user:hunter2pass@api.example.com/v1?api_key=abc",
      taskFile: "tasks/sentiment.jsonl",
      strategy: "few-shot",
      // A careless caller recorded a header: the report must not show it.
      options: { k: 4, labels: "gold", headers: { Authorization: `Bearer ${FAKE_API_KEY}` } },
      seed: 1,
    },
    fixedClock("2026-11-28T10:00:00.000Z"),
  );
  const demos = "Choices: pos, neg\nInput: a fine film\nLabel: pos\n";
  store.append(
    record(0, {
      input: MALICIOUS,
      prompts: [`${demos}Input: ${MALICIOUS}\nLabel:`],
      outputs: [" neg"],
      answers: ["neg"],
      answer: "neg",
      candidates: ["pos", "neg"],
      logprobs: [-1.2, -0.4],
      gold: "neg",
      correct: true,
    }),
  );
  store.append(
    record(1, {
      input: "a wonderful day",
      prompts: [`${demos}Input: a wonderful day\nLabel:`],
      outputs: [` pos (my key is ${FAKE_API_KEY})`],
      answers: ["pos"],
      answer: "pos",
      gold: "pos",
      correct: true,
    }),
  );
  store.append(
    record(2, { input: "dull and slow", answer: "pos", answers: ["pos"], gold: "neg", correct: false }),
  );
  store.append(record(3, { input: "loved it", gold: "pos", correct: true }));
  store.finish(
    { name: "accuracy", value: 0.75, correct: 3, total: 4 },
    fixedClock("2026-11-28T10:01:00.000Z"),
  );
}

/** self-consistency with 5 paths: 5 of 5 correct; votes for the chosen answer 5/5, 4/5, 3/5, 5/5, 2/5. */
export function writeSelfConsistencyRun(dir: string): void {
  const store = ResultsStore.open(dir, "sc-run", {
    model: "local-llama",
    taskFile: "tasks/arithmetic.jsonl",
    strategy: "self-consistency",
    options: { samples: 5, temperature: 0.7 },
    seed: 2,
  });
  const agreements = [5, 4, 3, 5, 2];
  agreements.forEach((top, index) => {
    const gold = String(10 + index);
    // the other paths each reach a different wrong answer, so the gold answer keeps the plurality
    const wrong = Array.from({ length: 5 - top }, (_, j) => String(100 + j));
    const answers = [...Array(top).fill(gold), ...wrong];
    store.append(
      record(index, {
        input: `What is ${index} + 10?`,
        prompts: answers.map(() => `Q: What is ${index} + 10?\nA: Let's think step by step.`),
        outputs: answers.map((a) => `${index} plus 10 makes ${a}. The answer is ${a}.`),
        answers,
        answer: gold,
        votes: [
          { answer: gold, count: top, weight: top },
          ...wrong.map((answer) => ({ answer, count: 1, weight: 1 })),
        ],
        gold,
        correct: true,
      }),
    );
  });
  store.finish({ name: "accuracy", value: 1, correct: 5, total: 5 });
}

/**
 * A training run folder written by the real Trainer (eval_log.jsonl, checkpoint/, best/) plus the adapter as
 * runTraining saves it; with `summary`, also train_run.json (the TrainRunResult and the options).
 */
export function writeTrainRun(dir: string, method: "lora" | "bitfit", summary: boolean): void {
  const adapter: Adapter =
    method === "lora"
      ? new LoraAdapter({ r: 2, alpha: 4, seed: 3, targetModules: ["query", "value"] })
      : new BitFitAdapter();
  const stepLosses: number[] = [];
  const trainer = toyTrainer({
    adapter,
    outputDir: dir,
    evalEvery: 3,
    metrics: classificationMetrics(2),
    onEvent: (event) => {
      if (event.type === "step") stepLosses.push(event.loss);
    },
  });
  const result = trainer.train();
  saveAdapter(adapter, join(dir, "adapter"));
  if (!summary) return;
  const trainable = adapter.trainableCount();
  const run = {
    method,
    labels: ["0", "1"],
    trainExamples: 24,
    evalExamples: 8,
    steps: result.steps,
    totalSteps: trainer.totalSteps,
    trainableParameters: trainable,
    baseParameters: 5000,
    percentOfBase: (100 * trainable) / 5000,
    stepLosses,
    evaluations: result.evaluations,
    finalMetrics: result.evaluations.at(-1)?.metrics ?? {},
    savedTo: join(dir, "adapter"),
    savedKind: "adapter",
    options: {
      model: "toy-bert",
      train: "tasks/toy.jsonl",
      method,
      seed: 5,
      batchSize: 4,
      learningRate: 0.01,
    },
  };
  writeFileSync(join(dir, "train_run.json"), `${JSON.stringify(run, null, 2)}\n`);
}

/**
 * compare.json as `adaptlm compare` writes it (src/eval/compare/report.ts, version 1): LoRA and BitFit rows, a
 * few-shot row and a strategy skipped for the task; `artifacts` gives rows their folders (row name -> path).
 */
export function writeComparison(dir: string, artifacts: Record<string, string> = {}): void {
  mkdirSync(dir, { recursive: true });
  const row = (fields: Record<string, unknown>) => ({
    status: "done",
    trainableParameters: null,
    baseParameters: null,
    storedBytes: null,
    trainingSeconds: null,
    inferenceSecondsPerExample: null,
    tokensPerExample: null,
    promptTokensPerExample: null,
    completionTokensPerExample: null,
    cost: null,
    examples: [],
    finishedAt: "2026-11-28T12:00:00.000Z",
    ...fields,
    artifacts: artifacts[fields.name as string] ?? null,
  });
  const metric = (value: number, low: number, high: number) => ({
    name: "accuracy",
    value,
    low,
    high,
    level: 0.95,
    correct: Math.round(value * 50),
    total: 50,
  });
  const report = {
    version: 1,
    setup: { task: "/data/sst2-mini", seed: 0, labels: ["neg", "pos"] },
    rows: [
      row({
        name: "lora",
        kind: "method",
        metric: metric(0.82, 0.7, 0.92),
        trainableParameters: 12_345,
        baseParameters: 4_400_000,
        storedBytes: 52_000,
        trainingSeconds: 31.5,
        tokensPerExample: 24,
      }),
      row({
        name: "bitfit",
        kind: "method",
        metric: metric(0.76, 0.64, 0.88),
        trainableParameters: 1_100,
        storedBytes: 6_000,
        trainingSeconds: 20,
        tokensPerExample: 24,
      }),
      row({
        name: "few-shot:4",
        kind: "strategy",
        metric: metric(0.7, 0.56, 0.82),
        trainableParameters: 0,
        tokensPerExample: 350,
        inferenceSecondsPerExample: 0.4,
      }),
      row({
        name: "least-to-most",
        kind: "strategy",
        status: "skipped",
        skipReason: "needs an answer task",
        metric: null,
      }),
    ],
    startedAt: "2026-11-28T11:00:00.000Z",
    updatedAt: "2026-11-28T12:00:00.000Z",
  };
  writeFileSync(join(dir, "compare.json"), `${JSON.stringify(report, null, 2)}\n`);
}

export interface ResultsFolder {
  root: string;
  fewShot: string;
  selfConsistency: string;
  lora: string;
  bitfit: string;
}

export function writeResultsFolder(): ResultsFolder {
  const root = join(makeTempDir("report"), "results");
  const folder: ResultsFolder = {
    root,
    fewShot: join(root, "prompt", "few-shot"),
    selfConsistency: join(root, "prompt", "self-consistency"),
    lora: join(root, "train-lora"),
    bitfit: join(root, "train-bitfit"),
  };
  writeFewShotRun(folder.fewShot);
  writeSelfConsistencyRun(folder.selfConsistency);
  writeTrainRun(folder.lora, "lora", true);
  writeTrainRun(folder.bitfit, "bitfit", false);
  writeComparison(join(root, "compare-sst2"));
  mkdirSync(join(root, "notes"), { recursive: true });
  writeFileSync(join(root, "notes", "todo.txt"), "nothing here\n");
  mkdirSync(join(root, "broken"), { recursive: true });
  writeFileSync(join(root, "broken", "run.json"), "{ not json");
  return folder;
}

/**
 * A comparison folder laid out as `adaptlm compare` leaves it: compare.json, the LoRA row's training run
 * (train/lora: trainer files, adapter/ and test_predictions.jsonl, 3 of 4 right), the few-shot row's prompt
 * run (prompt/few-shot-4, with the usage.json of its metered tokens) and the BitFit row's bare adapter folder
 * (adapters/bitfit).
 */
export function writeComparisonFolder(): string {
  const dir = join(makeTempDir("report-compare"), "compare-run");
  writeComparison(dir, {
    lora: "train/lora/adapter",
    bitfit: "adapters/bitfit",
    "few-shot:4": "prompt/few-shot-4",
  });
  writeTrainRun(join(dir, "train", "lora"), "lora", false);
  const predictions = [
    { id: "t0", correct: true, answer: "pos", gold: "pos" },
    { id: "t1", correct: false, answer: "pos", gold: "neg" },
    { id: "t2", correct: true, answer: "neg", gold: "neg" },
    { id: "t3", correct: true, answer: MALICIOUS, gold: MALICIOUS },
  ];
  writeFileSync(
    join(dir, "train", "lora", "test_predictions.jsonl"),
    predictions.map((p) => `${JSON.stringify(p)}\n`).join(""),
  );
  writeFewShotRun(join(dir, "prompt", "few-shot-4"));
  writeFileSync(
    join(dir, "prompt", "few-shot-4", "usage.json"),
    JSON.stringify({ answered: 4, seconds: 2, promptTokens: 1000, completionTokens: 40, cost: 0 }),
  );
  const scratch = join(dir, "..", "scratch");
  writeTrainRun(scratch, "bitfit", false);
  cpSync(join(scratch, "adapter"), join(dir, "adapters", "bitfit"), { recursive: true });
  return dir;
}
