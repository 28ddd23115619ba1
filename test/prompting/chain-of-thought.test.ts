import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildCotPrompt, chainOfThought } from "../../src/prompting/chain-of-thought.js";
import {
  answerTrigger,
  zeroShotCot,
  zeroShotCotSelfConsistency,
  zeroShotDirect,
} from "../../src/prompting/zero-shot-cot.js";
import { ScriptedLanguageModel } from "../lm/scripted-language-model.js";

const exemplars = [
  {
    question: "There are 3 cars and 2 more arrive. How many cars are there?",
    rationale: "There are 3 cars. 2 more arrive. 3 + 2 = 5.",
    answer: "5",
  },
  {
    question: "Leah had 32 chocolates and ate 10. How many are left?",
    rationale: "Leah had 32. She ate 10. 32 - 10 = 22.",
    answer: "22",
  },
];

describe("chain of thought", () => {
  test("the few-shot prompt has worked exemplars and ends with the question", () => {
    assert.equal(
      buildCotPrompt(exemplars, "Tom has 4 apples and buys 6. How many?"),
      "Q: There are 3 cars and 2 more arrive. How many cars are there?\n" +
        "A: There are 3 cars. 2 more arrive. 3 + 2 = 5. The answer is 5.\n\n" +
        "Q: Leah had 32 chocolates and ate 10. How many are left?\n" +
        "A: Leah had 32. She ate 10. 32 - 10 = 22. The answer is 22.\n\n" +
        "Q: Tom has 4 apples and buys 6. How many?\nA:",
    );
  });

  test("the answer is read after 'The answer is'", async () => {
    const lm = new ScriptedLanguageModel({
      generate: () => " Tom has 4. He buys 6. 4 + 6 = 10. The answer is 10.\n",
    });
    const result = await chainOfThought(lm, exemplars, "Tom has 4 apples and buys 6. How many?", {
      answerType: "number",
    });
    assert.equal(result.answer, "10");
    assert.deepEqual(lm.generateRequests[0], {
      prompt: result.prompt,
      maxTokens: 256,
      temperature: 0,
      stop: ["\n\nQ:", "\nQ:"],
    });
  });
});

describe("zero-shot chain of thought (Kojima et al.)", () => {
  test("two stages with the exact prompts, answer cleaned from the first number", async () => {
    const lm = new ScriptedLanguageModel({
      generate: (_request, _sample, call) =>
        call === 0
          ? " First, 16 - 3 - 4 = 9 eggs are sold. 9 * 2 = 18 dollars."
          : " $18. She makes 18 dollars on 16 eggs.",
    });
    const question =
      "Janet's ducks lay 16 eggs per day. She eats 3 and bakes with 4, and sells the rest at $2. How much does she make?";
    const result = await zeroShotCot(lm, question, { answerType: "number" });
    const stage1 = `Q: ${question}\nA: Let's think step by step.`;
    const stage2 = `${stage1} First, 16 - 3 - 4 = 9 eggs are sold. 9 * 2 = 18 dollars. Therefore, the answer (arabic numerals) is`;
    assert.deepEqual(lm.prompts, [stage1, stage2]);
    assert.equal(lm.generateRequests[1].temperature, 0);
    assert.deepEqual(result, {
      reasoningPrompt: stage1,
      reasoning: " First, 16 - 3 - 4 = 9 eggs are sold. 9 * 2 = 18 dollars.",
      answerPrompt: stage2,
      answerText: " $18. She makes 18 dollars on 16 eggs.",
      answer: "18",
    });
  });

  test("triggers per answer type, and choice and yes/no cleaning", async () => {
    assert.equal(answerTrigger("choice", ["A", "B", "C"]), "Therefore, among A through C, the answer is");
    assert.equal(answerTrigger("yes-no"), "Therefore, the answer (Yes or No) is");
    assert.equal(answerTrigger("text"), "Therefore, the answer is");
    const lm = new ScriptedLanguageModel({
      generate: (_r, _s, call) => (call === 0 ? " reasoning." : " (B), not (C)."),
    });
    const choice = await zeroShotCot(lm, "Which? Answer Choices: (A) x (B) y (C) z", {
      answerType: "choice",
      choiceLetters: ["A", "B", "C"],
    });
    assert.equal(choice.answer, "B");
    assert.match(choice.answerPrompt, / reasoning\. Therefore, among A through C, the answer is$/);
    const yesNo = await zeroShotCot(
      new ScriptedLanguageModel({ generate: (_r, _s, call) => (call === 0 ? " hmm." : " No. It is not.") }),
      "Is the sky green?",
      { answerType: "yes-no" },
    );
    assert.equal(yesNo.answer, "no");
  });

  test("the direct zero-shot baseline", async () => {
    const lm = new ScriptedLanguageModel({ generate: () => " 42." });
    const result = await zeroShotDirect(lm, "6 x 7?", { answerType: "number" });
    assert.deepEqual(lm.prompts, ["Q: 6 x 7?\nA: The answer (arabic numerals) is"]);
    assert.equal(result.answer, "42");
  });
});

describe("zero-shot CoT with self-consistency", () => {
  test("N sampled reasonings, each followed by its own greedy stage-2 prompt, then the vote", async () => {
    const reasonings = [" a gives 4.", " b gives 5.", " c gives 4."];
    const lm = new ScriptedLanguageModel({
      capabilities: { logprobs: false, topLogprobs: 0 },
      generate: (request, sample) => {
        const prompt = request.prompt as string;
        if (prompt.endsWith("Let's think step by step.")) return reasonings[sample];
        return prompt.includes("gives 5") ? " 5" : " 4.";
      },
    });
    const result = await zeroShotCotSelfConsistency(lm, "2 + 2?", {
      answerType: "number",
      samples: 3,
      seed: 2,
    });
    const stage1 = "Q: 2 + 2?\nA: Let's think step by step.";
    assert.deepEqual(lm.generateRequests[0], {
      prompt: stage1,
      maxTokens: 256,
      stop: ["\nQ:"],
      n: 3,
      temperature: 0.7,
      seed: 2,
    });
    assert.deepEqual(
      result.answerPrompts,
      reasonings.map((reasoning) => `${stage1}${reasoning} Therefore, the answer (arabic numerals) is`),
    );
    assert.deepEqual(lm.prompts.slice(1), result.answerPrompts);
    assert.equal(result.answer, "4");
    assert.deepEqual(result.distribution, { 4: 2 / 3, 5: 1 / 3 });
  });
});
