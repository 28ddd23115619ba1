import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { inferAnswerType } from "../../../src/eval/prompt-run.js";
import { answersMatch, extractAfterAnswerPhrase } from "../../../src/prompting/answer-extraction.js";
import { chainOfThought } from "../../../src/prompting/chain-of-thought.js";
import { leastToMost } from "../../../src/prompting/least-to-most.js";
import { createRng } from "../../../src/prompting/random.js";
import {
  cotSequence,
  decompositionSequence,
  solvingSequence,
  splitOf,
} from "../../../src/tasks/synthetic/format.js";
import {
  LAST_LETTER_WORDS,
  lastLetterPretrainingText,
  lastLetterProblem,
  lastLetterQuestion,
  lastLetterTaskRecords,
} from "../../../src/tasks/synthetic/last-letter.js";
import { ScriptedLanguageModel } from "../../lm/scripted-language-model.js";

function wordsOf(question: string): string[] {
  const match = /^Take the last letters of the words in "([a-z ]+)" and concatenate them\.$/.exec(question);
  assert.ok(match, question);
  return match[1].split(" ");
}

describe("last-letter concatenation", () => {
  test("the word list: about 300 distinct lower-case words", () => {
    assert.ok(LAST_LETTER_WORDS.length >= 280, `${LAST_LETTER_WORDS.length} words`);
    assert.equal(new Set(LAST_LETTER_WORDS).size, LAST_LETTER_WORDS.length);
    for (const word of LAST_LETTER_WORDS) assert.match(word, /^[a-z]{2,}$/);
  });

  test("the question and worked answer of the papers", () => {
    assert.equal(
      lastLetterQuestion(["apple", "banana", "cat"]),
      'Take the last letters of the words in "apple banana cat" and concatenate them.',
    );
    const problem = lastLetterProblem(createRng(1), 3, ["apple", "banana", "cat"]);
    assert.equal(problem.answer, [...wordsOf(problem.question)].map((w) => w.at(-1)).join(""));
    assert.match(
      problem.rationale,
      /^The last letter of "\w+" is "\w"\. .* Concatenating them is "\w{3}"\.$/,
    );
  });

  test("answers recomputed from the question; CoT and every step's answer extract to the gold", () => {
    for (const n of [2, 3, 4, 5, 6]) {
      const records = lastLetterTaskRecords({ seed: 3, count: 30, n });
      assert.equal(inferAnswerType(records.map((r) => r.label)), "text");
      for (const record of records) {
        const words = wordsOf(record.text);
        assert.equal(words.length, n);
        assert.equal(new Set(words).size, n);
        assert.equal(record.label, words.map((w) => w.at(-1)).join(""));
        assert.equal(splitOf(words.join(" ")), "held-out");
        const reasoning = ` ${record.rationale} The answer is ${record.label}.`;
        assert.ok(answersMatch(extractAfterAnswerPhrase(reasoning, { type: "text" }), record.label, "text"));
        assert.equal(record.subquestions?.length, n - 1);
        const steps = record.steps ?? [];
        assert.equal(steps.length, n);
        assert.equal(steps[n - 1].question, record.text);
        steps.forEach((step, i) => {
          const prefix = wordsOf(step.question);
          assert.deepEqual(prefix, words.slice(0, i + 1));
          const gold = prefix.map((w) => w.at(-1)).join("");
          assert.equal(extractAfterAnswerPhrase(step.answer, { type: "text" }), gold);
          assert.ok(
            !step.answer.includes("\n"),
            "a step answer is one line (least-to-most stops at newlines)",
          );
        });
      }
    }
  });

  test("CoT and least-to-most prompts built by the strategies agree with the pretraining formats", async () => {
    const rng = createRng(5);
    const exemplars = [lastLetterProblem(rng, 2), lastLetterProblem(rng, 2)];
    const query = lastLetterProblem(rng, 4);
    const problems = [...exemplars, query];

    const cotLm = new ScriptedLanguageModel({
      generate: () => ` ${query.rationale} The answer is ${query.answer}.`,
    });
    const cot = await chainOfThought(cotLm, exemplars, query.question, { answerType: "text" });
    assert.equal(cot.prompt + cot.reasoning, cotSequence(problems));
    assert.equal(cot.answer, query.answer);

    const subs = query.subquestions ?? [];
    const steps = query.steps ?? [];
    const list = subs.map((sub, i) => `${i + 1}. ${sub}`).join("\n");
    const lm = new ScriptedLanguageModel({
      generate: (_request, _sample, call) => (call === 0 ? list : ` ${steps[call - 1].answer}`),
    });
    const result = await leastToMost(lm, query.question, query.question, {
      decompositionExemplars: exemplars.map((p) => ({
        question: p.question,
        subquestions: p.subquestions ?? [],
      })),
      solutionExemplars: exemplars.map((p) => ({ problem: p.question, steps: p.steps ?? [] })),
      answerType: "text",
    });
    assert.equal(result.decompositionPrompt + list, decompositionSequence(problems));
    assert.deepEqual(result.subquestions, subs);
    assert.equal(`${result.solvingPrompts.at(-1)} ${result.finalText}`, solvingSequence(problems));
    assert.equal(result.answer, query.answer);
  });

  test("pretraining texts keep to short lists by default and are deterministic", () => {
    const rng = createRng(9);
    for (let i = 0; i < 80; i++) {
      const text = lastLetterPretrainingText(rng);
      for (const match of text.matchAll(/words in "([a-z ]+)"/g)) {
        const words = match[1].split(" ");
        assert.ok(words.length <= 3);
        // no evaluation word list, not even as a prefix solved on the way
        for (let i = 1; i <= words.length; i++) assert.equal(splitOf(words.slice(0, i).join(" ")), "train");
      }
      for (const match of text.matchAll(
        /Q: (Take the last letters[^\n]+)\nA: [^\n]*?is ([a-z]+)\.(?:\n|$)/g,
      )) {
        assert.equal(
          match[2],
          wordsOf(match[1])
            .map((w) => w.at(-1))
            .join(""),
          match[0],
        );
      }
    }
    assert.equal(lastLetterPretrainingText(createRng(2)), lastLetterPretrainingText(createRng(2)));
    assert.notEqual(lastLetterPretrainingText(createRng(2)), lastLetterPretrainingText(createRng(3)));
  });
});
