import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { answersMatch } from "../../../src/prompting/answer-extraction.js";
import { chainOfThought, extractCotAnswer } from "../../../src/prompting/chain-of-thought.js";
import { leastToMost } from "../../../src/prompting/least-to-most.js";
import { createRng } from "../../../src/prompting/random.js";
import { zeroShotCot } from "../../../src/prompting/zero-shot-cot.js";
import {
  arithmeticPretrainingText,
  arithmeticProblem,
  arithmeticTaskRecords,
} from "../../../src/tasks/synthetic/arithmetic.js";
import {
  cotSequence,
  decompositionSequence,
  directSequence,
  SyntheticTaskError,
  solvingSequence,
  splitOf,
  zeroShotCotSequence,
} from "../../../src/tasks/synthetic/format.js";
import { ScriptedLanguageModel } from "../../lm/scripted-language-model.js";

/** Recomputes a question's answer from its text alone. */
function solve(question: string): { answer: number; numbers: number[]; keys: string[] } {
  const start = /^\w+ has (\d+) /.exec(question);
  assert.ok(start, question);
  let total = Number(start[1]);
  const numbers = [total];
  const terms = [start[1]];
  const keys: string[] = [];
  for (const match of question.matchAll(/\b(buys|finds|gets|gives|loses|sells) (\d+)/g)) {
    const amount = Number(match[2]);
    const adds = ["buys", "finds", "gets"].includes(match[1]);
    numbers.push(amount);
    total += adds ? amount : -amount;
    terms.push(`${adds ? "+" : "-"} ${amount}`);
    keys.push(terms.join(" "));
  }
  return { answer: total, numbers, keys };
}

describe("synthetic arithmetic", () => {
  test("answers are right, numbers have the asked digits, and every equation in the rationale holds", () => {
    for (const digits of [1, 2, 3, 4]) {
      for (const steps of [1, 2, 3]) {
        for (const record of arithmeticTaskRecords({ seed: 1, count: 40, digits, steps })) {
          const { answer, numbers } = solve(record.text);
          assert.equal(record.label, String(answer), record.text);
          assert.equal(numbers.length, steps + 1);
          for (const n of numbers) assert.equal(String(n).length, digits, record.text);
          const equations = [...record.rationale.matchAll(/(\d+) ([+-]) (\d+) = (\d+)/g)];
          assert.equal(equations.length, steps);
          for (const [, a, sign, b, c] of equations) {
            assert.equal(Number(c), sign === "+" ? Number(a) + Number(b) : Number(a) - Number(b));
            assert.ok(Number(c) >= 0);
          }
          assert.equal(equations[equations.length - 1][4], record.label);
          assert.equal(record.subquestions?.length, steps >= 2 ? steps - 1 : undefined);
        }
      }
    }
  });

  test("the brief's example shape: question, worked rationale, extracted answer", () => {
    const problem = arithmeticProblem(createRng(3), { digits: 2, steps: 1 });
    assert.match(
      problem.question,
      /^\w+ has \d\d [a-z ]+ and \w+ .+\. How many [a-z ]+ does \w+ have now\?$/,
    );
    assert.match(
      problem.rationale,
      /^\w+ starts with \d\d [a-z ]+\. After .+, \w+ has \d\d [+-] \d\d = \d+ [a-z ]+\.$/,
    );
    const text = ` ${problem.rationale} The answer is ${problem.answer}.`;
    assert.equal(extractCotAnswer(text, { answerType: "number" }), problem.answer);
  });

  test("few-shot CoT, zero-shot CoT and least-to-most, run on a scripted model, replay the pretraining text", async () => {
    const rng = createRng(8);
    const problems = [1, 2, 3].map(() => arithmeticProblem(rng, { digits: 2, steps: 3 }));
    const [first, second, query] = problems;

    const cotLm = new ScriptedLanguageModel({
      generate: () => ` ${query.rationale} The answer is ${query.answer}.`,
    });
    const cot = await chainOfThought(cotLm, [first, second], query.question, { answerType: "number" });
    assert.equal(cot.prompt + cot.reasoning, cotSequence(problems));
    assert.ok(answersMatch(cot.answer, query.answer, "number"));

    const zeroLm = new ScriptedLanguageModel({
      generate: (_request, _sample, call) => (call === 0 ? ` ${query.rationale}` : ` ${query.answer}.`),
    });
    const zero = await zeroShotCot(zeroLm, query.question, { answerType: "number" });
    assert.equal(zero.answerPrompt + zero.answerText, zeroShotCotSequence([query], "number"));
    assert.equal(zero.answer, query.answer);

    const subs = query.subquestions as string[];
    const steps = query.steps as Array<{ question: string; answer: string }>;
    const l2mLm = new ScriptedLanguageModel({
      generate: (_request, _sample, call) =>
        call === 0 ? subs.map((sub, i) => `${i + 1}. ${sub}`).join("\n") : ` ${steps[call - 1].answer}`,
    });
    const l2m = await leastToMost(l2mLm, query.question, query.question, {
      decompositionExemplars: [first, second].map((p) => ({
        question: p.question,
        subquestions: p.subquestions ?? [],
      })),
      solutionExemplars: [first, second].map((p) => ({ problem: p.question, steps: p.steps ?? [] })),
      answerType: "number",
    });
    assert.equal(
      l2m.decompositionPrompt + subs.map((sub, i) => `${i + 1}. ${sub}`).join("\n"),
      decompositionSequence(problems),
    );
    assert.deepEqual(l2m.subquestions, subs);
    assert.equal(
      `${l2m.solvingPrompts[l2m.solvingPrompts.length - 1]} ${l2m.finalText}`,
      solvingSequence(problems),
    );
    assert.equal(l2m.answer, query.answer);
  });

  test("direct sequences state only the answer", () => {
    const problems = arithmeticTaskRecords({ seed: 2, count: 2 }).map((r) => ({
      question: r.text,
      rationale: r.rationale,
      answer: r.label,
    }));
    assert.equal(
      directSequence(problems),
      `Q: ${problems[0].question}\nA: The answer is ${problems[0].answer}.\n\nQ: ${problems[1].question}\nA: The answer is ${problems[1].answer}.`,
    );
  });

  test("pretraining texts: every format appears, every stated answer is right, deterministic", () => {
    const rng = createRng(21);
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const text = arithmeticPretrainingText(rng);
      if (text.includes("Sub-questions:")) seen.add("decomposition");
      else if (text.includes("Let's think step by step.")) seen.add("zero-shot-cot");
      else if (/\n\nQ: How many .+ after /.test(text)) seen.add("solving");
      else if (text.includes("starts with")) seen.add("cot");
      else seen.add("direct");
      // each "Q: <problem>\nA: ... The answer is N." block states the answer of its problem
      for (const match of text.matchAll(
        /Q: (\w+ has \d+ .+\?)\nA: [^\n]*?(?:The answer is|\(arabic numerals\) is) (\d+)\./g,
      )) {
        assert.equal(match[2], String(solve(match[1]).answer), match[0]);
      }
    }
    assert.deepEqual([...seen].sort(), ["cot", "decomposition", "direct", "solving", "zero-shot-cot"]);
    assert.equal(arithmeticPretrainingText(createRng(1)), arithmeticPretrainingText(createRng(1)));
    assert.notEqual(arithmeticPretrainingText(createRng(1)), arithmeticPretrainingText(createRng(2)));
    assert.deepEqual(
      arithmeticTaskRecords({ seed: 4, count: 5 }),
      arithmeticTaskRecords({ seed: 4, count: 5 }),
    );
    assert.notDeepEqual(
      arithmeticTaskRecords({ seed: 4, count: 5 }),
      arithmeticTaskRecords({ seed: 5, count: 5 }),
    );
  });

  test("evaluation problems are held out of pretraining, sub-problems included", () => {
    for (const steps of [1, 2, 3]) {
      for (const record of arithmeticTaskRecords({ seed: 6, count: 30, digits: 2, steps })) {
        assert.equal(splitOf(solve(record.text).keys.at(-1) as string), "held-out", record.text);
      }
    }
    const rng = createRng(12);
    let problems = 0;
    for (let i = 0; i < 100; i++) {
      for (const match of arithmeticPretrainingText(rng).matchAll(/Q: (\w+ has \d+ [^\n]+\?)\n/g)) {
        problems++;
        for (const key of solve(match[1]).keys) assert.equal(splitOf(key), "train", match[1]);
      }
    }
    assert.ok(problems > 200, `${problems} problems checked`);
    // about one key in ten is held out
    const keys = Array.from({ length: 2000 }, (_, i) => `${i} + ${i * 7}`);
    const heldOut = keys.filter((key) => splitOf(key) === "held-out").length;
    assert.ok(heldOut > 150 && heldOut < 250, `${heldOut} of 2000 held out`);
  });

  test("bad difficulty is a typed error", () => {
    assert.throws(() => arithmeticProblem(createRng(0), { digits: 0 }), SyntheticTaskError);
    assert.throws(() => arithmeticTaskRecords({ seed: 0, count: 3, steps: 1.5 }), /steps must be an integer/);
    assert.throws(
      () => arithmeticPretrainingText(createRng(0), { maxSteps: 1, formats: { solving: 1 } }),
      /needs maxSteps >= 2/,
    );
  });
});
