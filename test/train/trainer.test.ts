// Trainer: learns a toy task through LoRA, gradient accumulation equals a larger batch, a SIGKILLed run
// resumes from its checkpoint to exactly the uninterrupted result, early stopping, a NaN loss stops with a
// typed error and keeps the last good checkpoint, dynamic padding.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { CausalLMTaskModel } from "../../src/heads/causal-lm.js";
import { BertForQuestionAnswering } from "../../src/heads/question-answering.js";
import { BertForTokenClassification } from "../../src/heads/token-classification.js";
import { parseHfConfig } from "../../src/io/hf-config.js";
import { GPT2LMHeadModel } from "../../src/models/gpt2.js";
import { PrefixTuningAdapter } from "../../src/peft/prefix.js";
import { PromptTuningAdapter } from "../../src/peft/prompt-tuning.js";
import type * as T from "../../src/tensor/index.js";
import { collate } from "../../src/train/collate.js";
import { entityMetrics } from "../../src/train/task-metrics.js";
import { Trainer, type TrainerEvent, TrainingError } from "../../src/train/trainer.js";
import { makeTempDir } from "../io/temp-dir.js";
import { toyConfig, toyTrainer } from "./toy-setup.js";

test("collate pads to the longest row; labels -100 on padding for token tasks", () => {
  const batch = collate(
    [
      { inputIds: [2, 5, 3], labels: [-100, 1, -100] },
      { inputIds: [2, 5, 6, 7, 3], labels: [-100, 1, 0, 1, -100] },
    ],
    "TOKEN_CLS",
    0,
  );
  assert.deepEqual(batch.inputs.inputIds?.shape, [2, 5]);
  assert.deepEqual(batch.inputs.attentionMask?.toArray(), [1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
  assert.deepEqual(batch.targets.labels.toArray(), [-100, 1, -100, -100, -100, -100, 1, 0, 1, -100]);
});

test("trains a toy task through LoRA: loss falls, accuracy rises, eval log and best adapter written", () => {
  const dir = makeTempDir("train");
  const events: TrainerEvent[] = [];
  const trainer = toyTrainer({ epochs: 6, outputDir: dir, onEvent: (e) => events.push(e) });
  const before = trainer.evaluate();
  const result = trainer.train();
  const after = result.evaluations.at(-1)?.metrics ?? {};
  assert.ok(after.loss < before.loss, `validation loss ${before.loss} -> ${after.loss}`);
  assert.ok(after.accuracy >= 0.75, `accuracy ${after.accuracy}`);
  const steps = events.filter((e) => e.type === "step");
  assert.equal(steps.length, result.steps);
  assert.ok(
    steps.every((e) => e.type === "step" && Number.isFinite(e.learningRate) && e.examplesPerSecond > 0),
  );
  assert.equal(readFileSync(join(dir, "eval_log.jsonl"), "utf8").trim().split("\n").length, 6);
  assert.ok(existsSync(join(dir, "best", "adapter_config.json")));
});

test("gradient accumulation over 2 batches of 2 equals batches of 4", () => {
  const params = (accumulation: number, batchSize: number) => {
    const trainer = toyTrainer({
      epochs: 1,
      batchSize,
      gradientAccumulation: accumulation,
      maxGradNorm: 0,
      validation: [],
    });
    trainer.train();
    return [...(trainer as unknown as { trainable: Map<string, T.Tensor> }).trainable.values()].map((p) =>
      p.toArray(),
    );
  };
  const a = params(1, 4);
  const b = params(2, 2);
  for (let i = 0; i < a.length; i++)
    for (let j = 0; j < a[i].length; j++) assert.ok(Math.abs(a[i][j] - b[i][j]) < 1e-5);
});

test("a run killed with SIGKILL resumes from its checkpoint and ends exactly like an uninterrupted run", () => {
  const straight = toyTrainer({ validation: [] });
  straight.train();
  const expected = [...(straight as unknown as { trainable: Map<string, T.Tensor> }).trainable.values()].map(
    (p) => p.toArray(),
  );

  const dir = makeTempDir("resume");
  const child = fileURLToPath(new URL("./kill-child.js", import.meta.url));
  assert.throws(() => execFileSync(process.execPath, [child, dir, "3"], { stdio: "pipe" }));
  const state = JSON.parse(readFileSync(join(dir, "checkpoint", "trainer_state.json"), "utf8"));
  assert.equal(state.step, 2, "the kill came after step 3; the last checkpoint is step 2");
  assert.deepEqual(readdirSync(join(dir, "checkpoint")).sort(), [
    "state-2.safetensors",
    "trainer_state.json",
  ]);

  const events: TrainerEvent[] = [];
  const resumed = toyTrainer({
    validation: [],
    outputDir: dir,
    checkpointEvery: 2,
    onEvent: (e) => events.push(e),
  });
  resumed.train();
  assert.deepEqual(events[0], { type: "resumed", step: 2, epoch: 0 });
  const actual = [...(resumed as unknown as { trainable: Map<string, T.Tensor> }).trainable.values()].map(
    (p) => p.toArray(),
  );
  assert.deepEqual(actual, expected);
});

test("early stopping after the patience runs out", () => {
  const result = toyTrainer({
    epochs: 10,
    evalEvery: 1,
    metrics: () => ({ constant: 1 }),
    metricForBest: "constant",
    earlyStoppingPatience: 2,
  }).train();
  assert.ok(result.stoppedEarly);
  assert.equal(result.steps, 3);
  assert.equal(result.bestStep, 1);
});

test("a NaN loss stops with a typed error naming the last good checkpoint", () => {
  const dir = makeTempDir("nan");
  let poisoned: T.Tensor | null = null;
  const trainer = toyTrainer({
    validation: [],
    outputDir: dir,
    checkpointEvery: 2,
    onEvent: (e) => {
      if (e.type === "step" && e.step === 2 && poisoned) poisoned.data[0] = Number.NaN;
    },
  });
  poisoned = (trainer as unknown as { trainable: Map<string, T.Tensor> }).trainable.get(
    "classifier.weight",
  ) as T.Tensor;
  assert.throws(
    () => trainer.train(),
    (e: unknown) =>
      e instanceof TrainingError &&
      e.code === "NON_FINITE_LOSS" &&
      /step 2/.test(e.message) &&
      e.message.includes(join(dir, "checkpoint")),
  );
  assert.equal(JSON.parse(readFileSync(join(dir, "checkpoint", "trainer_state.json"), "utf8")).step, 2);
});

test("token classification, QA and causal LM (prompt tuning) train and evaluate through the same loop", () => {
  const tagged = [
    { inputIds: [2, 5, 6, 3], labels: [-100, 1, 2, -100] },
    { inputIds: [2, 7, 5, 6, 8, 3], labels: [-100, 0, 1, 2, 0, -100] },
  ];
  const tokens = new Trainer({
    model: new BertForTokenClassification(toyConfig, { numLabels: 3, dropout: 0 }),
    adapter: new PrefixTuningAdapter({ numVirtualTokens: 2 }),
    train: tagged,
    validation: tagged,
    batchSize: 2,
    epochs: 2,
    learningRate: 1e-2,
    metrics: entityMetrics(["O", "B-X", "I-X"]),
  }).train();
  assert.ok(Number.isFinite(tokens.evaluations.at(-1)?.metrics.entity_f1));
  const spans = [
    {
      inputIds: [2, 5, 3, 6, 7, 8, 3],
      tokenTypeIds: [0, 0, 0, 1, 1, 1, 1],
      startPosition: 4,
      endPosition: 5,
    },
  ];
  const qa = new Trainer({
    model: new BertForQuestionAnswering(toyConfig),
    train: spans,
    validation: spans,
    epochs: 2,
    learningRate: 1e-2,
  }).train();
  assert.ok(Number.isFinite(qa.evaluations.at(-1)?.metrics.loss));
  const gpt2 = parseHfConfig({
    model_type: "gpt2",
    n_embd: 16,
    n_layer: 1,
    n_head: 2,
    vocab_size: 12,
    n_positions: 16,
  });
  const text = [{ inputIds: [4, 5, 6, 7] }, { inputIds: [4, 5, 6] }];
  const lm = new Trainer({
    model: new CausalLMTaskModel(new GPT2LMHeadModel(gpt2, { seed: 1 })),
    adapter: new PromptTuningAdapter({ numVirtualTokens: 2 }),
    train: text,
    validation: text,
    batchSize: 2,
    epochs: 3,
    learningRate: 5e-2,
  });
  const first = lm.evaluate().loss;
  const result = lm.train();
  assert.ok((result.evaluations.at(-1)?.metrics.loss as number) < first);
});
