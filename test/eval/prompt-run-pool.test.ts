// runPromptEvaluation with a demonstration pool: demonstrations come only from the pool, example i draws them
// exactly as a one-example run over [example, ...pool] with seed + i does (what `compare` did per example),
// the pool is part of the run's setup, and maxTokens reaches every generation.

import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  defaultRunId,
  PromptRunError,
  type PromptRunOptions,
  type PromptTaskExample,
  promptRunSetupOptions,
  promptTaskFromRecords,
  runPromptEvaluation,
} from "../../src/eval/prompt-run.js";
import { ResultsStore, type RunSetup } from "../../src/eval/results-store.js";
import { makeTempDir } from "../io/temp-dir.js";
import { ScriptedLanguageModel } from "../lm/scripted-language-model.js";

const root = makeTempDir("prompt-run-pool");
let counter = 0;

function setupOf(options: PromptRunOptions): RunSetup {
  return {
    model: "scripted",
    taskFile: "task.jsonl",
    strategy: options.strategy,
    options: promptRunSetupOptions(options),
    seed: options.seed ?? 0,
  };
}

function freshStore(options: PromptRunOptions): ResultsStore {
  const setup = setupOf(options);
  return ResultsStore.open(join(root, `run-${counter++}`), defaultRunId(setup), setup);
}

const test3: PromptTaskExample[] = promptTaskFromRecords([
  { id: "t0", text: "what is 1 + 1?", label: "2", rationale: "1 + 1 = 2." },
  { id: "t1", text: "what is 2 + 2?", label: "4", rationale: "2 + 2 = 4." },
  { id: "t2", text: "what is 3 + 3?", label: "6", rationale: "3 + 3 = 6." },
]);
const train: PromptTaskExample[] = promptTaskFromRecords(
  Array.from({ length: 8 }, (_, i) => ({
    id: `train:${i}`,
    text: `what is ${i} + 10?`,
    label: String(i + 10),
    rationale: `${i} + 10 = ${i + 10}.`,
  })),
);

/** Answers the last question right ("what is a + b?"), so every example is correct. */
function adder(): ScriptedLanguageModel {
  return new ScriptedLanguageModel({
    generate: (request) => {
      const prompt = request.prompt as string;
      const [, a, b] = /what is (\d+) \+ (\d+)\?\nA:$/.exec(prompt) ?? [];
      return ` Adding. The answer is ${Number(a) + Number(b)}.`;
    },
  });
}

describe("runPromptEvaluation with a demonstration pool", () => {
  test("demonstrations come from the pool only, as per-example runs over [example, ...pool] draw them", async () => {
    const pooled = adder();
    const options: PromptRunOptions = { strategy: "cot", k: 3, seed: 7, demonstrations: train };
    const result = await runPromptEvaluation(pooled, test3, freshStore(options), options);
    assert.equal(result.metric.correct, 3);
    assert.equal(pooled.prompts.length, 3);
    for (const prompt of pooled.prompts) {
      const questions = [...prompt.matchAll(/Q: (what is \d+ \+ \d+\?)/g)].map((m) => m[1]);
      assert.equal(questions.length, 4, "k = 3 demonstrations, then the query");
      // no evaluated example is shown as a demonstration
      for (const shown of questions.slice(0, -1)) assert.match(shown as string, / \+ 10\?$/);
    }

    // the old `compare` path: one run per example, the example first in its own task, seed + index
    const single = adder();
    for (const [index, example] of test3.entries()) {
      const perExample: PromptRunOptions = { strategy: "cot", k: 3, seed: 7 + index, limit: 1 };
      await runPromptEvaluation(single, [example, ...train], freshStore(perExample), perExample);
    }
    assert.deepEqual(pooled.prompts, single.prompts);
    // and the draw depends on the seed: another seed shows other demonstrations somewhere
    const other = adder();
    const reseeded: PromptRunOptions = { ...options, seed: 8 };
    await runPromptEvaluation(other, test3, freshStore(reseeded), reseeded);
    assert.notDeepEqual(other.prompts, pooled.prompts);
  });

  test("the pool is part of the setup (size and ids), so another pool is another run", () => {
    const base: PromptRunOptions = { strategy: "cot", k: 2 };
    const withPool = promptRunSetupOptions({ ...base, demonstrations: train });
    assert.deepEqual((withPool.demonstrations as { count: number }).count, 8);
    const otherPool = promptRunSetupOptions({ ...base, demonstrations: train.slice(1) });
    assert.notDeepEqual(withPool.demonstrations, otherPool.demonstrations);
    // without a pool the setup is what it always was (old results stores still resume)
    assert.equal("demonstrations" in promptRunSetupOptions(base), false);
    assert.notEqual(
      defaultRunId(setupOf({ ...base, demonstrations: train })),
      defaultRunId(setupOf({ ...base, demonstrations: train.slice(1) })),
    );
  });

  test("an empty pool with k > 0 is refused; k = 0 needs none", async () => {
    const options: PromptRunOptions = { strategy: "cot", k: 2, demonstrations: [] };
    await assert.rejects(
      runPromptEvaluation(adder(), test3, freshStore(options), options),
      (error: unknown) => error instanceof PromptRunError && error.code === "PROMPT_EMPTY_DEMONSTRATIONS",
    );
    const zero: PromptRunOptions = { strategy: "cot", k: 0, demonstrations: [] };
    const lm = adder();
    const result = await runPromptEvaluation(lm, test3, freshStore(zero), zero);
    assert.equal(result.metric.correct, 3);
    assert.ok(lm.prompts.every((prompt) => prompt.split("Q: ").length === 2));
  });

  test("classification offers the labels of the task and the pool", async () => {
    const task = promptTaskFromRecords([
      { id: "q0", text: "great", label: "pos" },
      { id: "q1", text: "fine", label: "pos" },
    ]);
    const pool = promptTaskFromRecords([
      { id: "p0", text: "awful", label: "neg" },
      { id: "p1", text: "so-so", label: "meh" },
    ]);
    const lm = new ScriptedLanguageModel({
      score: (_prompt, continuation) => (continuation === " pos" ? 0 : -1),
    });
    const options: PromptRunOptions = { strategy: "few-shot", k: 2, demonstrations: pool };
    const result = await runPromptEvaluation(lm, task, freshStore(options), options);
    assert.deepEqual(result.labels, ["meh", "neg", "pos"]);
    assert.equal(result.metric.correct, 2);
  });

  test("maxTokens bounds every generation of the answer strategies", async () => {
    for (const strategy of ["cot", "least-to-most"] as const) {
      const lm = new ScriptedLanguageModel({ generate: () => " The answer is 2." });
      const options: PromptRunOptions = { strategy, k: 0, maxTokens: 17 };
      await runPromptEvaluation(lm, test3.slice(0, 1), freshStore(options), options);
      assert.ok(lm.generateRequests.length > 0);
      assert.ok(
        lm.generateRequests.every((request) => request.maxTokens === 17),
        strategy,
      );
    }
  });
});
