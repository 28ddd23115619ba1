import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { LabelledExample } from "../../src/prompting/example.js";
import { createRng } from "../../src/prompting/random.js";
import { searchPromptRl, TabularPromptPolicy } from "../../src/prompting/rl-prompt.js";
import { ScriptedLanguageModel } from "../lm/scripted-language-model.js";

const examples: LabelledExample[] = [
  { fields: { text: "loved it" }, label: "pos" },
  { fields: { text: "hated it" }, label: "neg" },
  { fields: { text: "great" }, label: "pos" },
  { fields: { text: "awful" }, label: "neg" },
];
const positive = new Set(["loved it", "great"]);
const candidates = [
  { label: "pos", continuation: " positive" },
  { label: "neg", continuation: " negative" },
];

/** A task model that knows the answer only when the prompt mentions "sentiment"; otherwise it says positive. */
function taskModel(): ScriptedLanguageModel {
  return new ScriptedLanguageModel({
    score: (prompt, continuation) => {
      const text = /Input: (.*)\n/.exec(prompt)![1];
      const gold = positive.has(text) ? " positive" : " negative";
      if (prompt.includes("sentiment")) return continuation === gold ? Math.log(0.9) : Math.log(0.1);
      return continuation === " positive" ? Math.log(0.6) : Math.log(0.4);
    },
  });
}

describe("RL prompt search", () => {
  test("the policy learns the useful word; best prompt, reward curve and requests are bounded", async () => {
    const lm = taskModel();
    const vocabulary = ["movie", "sentiment", "the", "cat", "blue", "run"];
    const result = await searchPromptRl(lm, {
      vocabulary,
      promptLength: 2,
      examples,
      buildPrompt: (prompt, example) => `${prompt}\nInput: ${example.fields.text}\nLabel:`,
      candidates: () => candidates,
      steps: 30,
      batchSize: 4,
      examplesPerStep: 4,
      learningRate: 1,
      seed: 1,
    });
    assert.match(result.bestPrompt, /sentiment/);
    // with "sentiment" every example is right with gap 0.8: reward 0.8 x 200
    assert.ok(Math.abs(result.bestReward - 160) < 1e-9);
    assert.match(result.finalPrompt, /sentiment/);
    assert.equal(result.rewardCurve.length, 30);
    const firstFive = result.rewardCurve.slice(0, 5).reduce((a, b) => a + b, 0);
    const lastFive = result.rewardCurve.slice(-5).reduce((a, b) => a + b, 0);
    assert.ok(lastFive > firstFive, `reward did not rise: ${firstFive} -> ${lastFive}`);
    // at most steps x batch x examples x candidates score calls (fewer: repeated prompts in a step are memoised)
    assert.ok(lm.calls.length <= 30 * 4 * 4 * 2);
    const first = lm.calls[0];
    assert.equal(first.kind, "score");
    assert.match(first.kind === "score" ? first.prompt : "", /^\w+ \w+\nInput: [a-z ]+\nLabel:$/);
  });

  test("accuracy reward; a prompt without the word scores the majority-class accuracy", async () => {
    const lm = taskModel();
    const result = await searchPromptRl(lm, {
      vocabulary: ["movie"],
      promptLength: 1,
      examples,
      buildPrompt: (prompt, example) => `${prompt}\nInput: ${example.fields.text}\nLabel:`,
      candidates: () => candidates,
      steps: 2,
      batchSize: 2,
      reward: "accuracy",
    });
    assert.equal(result.bestPrompt, "movie");
    assert.equal(result.bestReward, 0.5);
    assert.deepEqual(result.rewardCurve, [0.5, 0.5]);
    // both samples in a step are the same prompt: evaluated once per step
    assert.equal(lm.calls.length, 2 * 4 * 2);
  });

  test("TabularPromptPolicy: REINFORCE raises the probability of advantaged choices", () => {
    const policy = new TabularPromptPolicy(3, 1);
    assert.deepEqual(policy.probabilities(), [[1 / 3, 1 / 3, 1 / 3]]);
    policy.update([[2], [0]], [1, -1], 1);
    const [row] = policy.probabilities();
    assert.ok(row[2] > 1 / 3 && row[0] < 1 / 3);
    assert.deepEqual(policy.mode(), [2]);
    const rng = createRng(3);
    const counts = [0, 0, 0];
    for (let i = 0; i < 2000; i++) counts[policy.sample(rng)[0]]++;
    assert.ok(counts[2] > counts[1] && counts[1] > counts[0]);
  });
});
