import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  buildDecompositionPrompt,
  leastToMost,
  parseSubquestions,
} from "../../src/prompting/least-to-most.js";
import { ScriptedLanguageModel } from "../lm/scripted-language-model.js";

const decompositionExemplars = [
  {
    question: "Elsa has 5 apples. Anna has 2 more apples than Elsa. How many apples do they have together?",
    subquestions: ["How many apples does Anna have?"],
  },
];
const solutionExemplars = [
  {
    problem: "Elsa has 5 apples. Anna has 2 more apples than Elsa.",
    steps: [
      { question: "How many apples does Anna have?", answer: "Anna has 5 + 2 = 7 apples." },
      { question: "How many apples do they have together?", answer: "5 + 7 = 12. The answer is 12." },
    ],
  },
];

describe("least-to-most", () => {
  test("stage 1 decomposes; stage 2 answers sub-questions in order, appending each, then the question", async () => {
    const problem = "Amy climbs a slide in 4 minutes and slides down in 1. The slide closes in 15 minutes.";
    const question = "How many times can she slide before it closes?";
    const answers = [
      "\n1. How long does each trip take?\n2. How many times can she slide before it closes?\n\nignored",
      " Each trip takes 4 + 1 = 5 minutes.",
      " 15 / 5 = 3. The answer is 3.",
    ];
    const lm = new ScriptedLanguageModel({ generate: (_request, _sample, call) => answers[call] });
    const result = await leastToMost(lm, problem, question, {
      decompositionExemplars,
      solutionExemplars,
      answerType: "number",
    });

    const stage1 =
      "Q: Elsa has 5 apples. Anna has 2 more apples than Elsa. How many apples do they have together?\n" +
      "Sub-questions:\n1. How many apples does Anna have?\n\n" +
      `Q: ${question}\nSub-questions:\n`;
    const prefix =
      "Elsa has 5 apples. Anna has 2 more apples than Elsa.\n\n" +
      "Q: How many apples does Anna have?\nA: Anna has 5 + 2 = 7 apples.\n\n" +
      "Q: How many apples do they have together?\nA: 5 + 7 = 12. The answer is 12.\n\n\n";
    const first = `${prefix}${problem}\n\nQ: How long does each trip take?\nA:`;
    const final = `${first} Each trip takes 4 + 1 = 5 minutes.\n\nQ: ${question}\nA:`;
    assert.deepEqual(lm.prompts, [stage1, first, final]);
    assert.equal(result.decompositionPrompt, stage1);
    // the last sub-question repeats the question: it is asked once, last
    assert.deepEqual(result.subquestions, ["How long does each trip take?"]);
    assert.deepEqual(result.steps, [
      { question: "How long does each trip take?", answer: "Each trip takes 4 + 1 = 5 minutes." },
    ]);
    assert.deepEqual(result.solvingPrompts, [first, final]);
    assert.equal(result.answer, "3");
    assert.ok(lm.generateRequests.every((request) => request.temperature === 0));
  });

  test("parseSubquestions reads numbered or bulleted lines up to a blank line", () => {
    assert.deepEqual(parseSubquestions(" 1. a?\n2) b?\n- c?\n\n3. d?"), ["a?", "b?", "c?"]);
    assert.deepEqual(parseSubquestions("none here"), []);
    assert.equal(buildDecompositionPrompt([], "Q?"), "Q: Q?\nSub-questions:\n");
  });

  test("the number of sub-questions is bounded", async () => {
    const many = Array.from({ length: 20 }, (_, i) => `${i + 1}. step ${i}?`).join("\n");
    const lm = new ScriptedLanguageModel({ generate: (_r, _s, call) => (call === 0 ? many : " ok 1") });
    const result = await leastToMost(lm, "p", "q?", {
      decompositionExemplars: [],
      solutionExemplars: [],
      answerType: "number",
      maxSubquestions: 3,
    });
    assert.equal(result.steps.length, 3);
    assert.equal(lm.calls.length, 5);
  });
});
