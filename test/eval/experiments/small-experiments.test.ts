// Smoke tests of demo-domain, icl-numeric, cot, self-consistency and least-to-most at tiny sizes with
// scripted models: each writes result.json whose rows equal a recount of the recorded examples, the prompts
// are the ones its conditions promise, and the plot has its series.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { ClassificationExampleRecord } from "../../../src/eval/experiments/classification-cell.js";
import { classificationSplit } from "../../../src/eval/experiments/classification-data.js";
import { cot } from "../../../src/eval/experiments/cot.js";
import { demoDomain } from "../../../src/eval/experiments/demo-domain.js";
import { iclNumeric, numericTask } from "../../../src/eval/experiments/icl-numeric.js";
import {
  leastToMostDemonstrations,
  leastToMostExperiment,
} from "../../../src/eval/experiments/least-to-most.js";
import { runExperiment } from "../../../src/eval/experiments/runner.js";
import { selfConsistencyExperiment } from "../../../src/eval/experiments/self-consistency.js";
import { arithmeticTaskRecords } from "../../../src/tasks/synthetic/arithmetic.js";
import { lastLetterTaskRecords } from "../../../src/tasks/synthetic/last-letter.js";
import { makeTempDir } from "../../io/temp-dir.js";
import { ScriptedLanguageModel } from "../../lm/scripted-language-model.js";
import { countMarks } from "../report/svg-marks.js";
import {
  cellRecords,
  lastQuestion,
  majorityLabelModel,
  oracleModel,
  recountRows,
} from "./experiment-helpers.js";

const dir = makeTempDir("experiment-small");

describe("demo-domain", () => {
  test("other-domain demos come from the other domain, ood-inputs keep in-domain labels on foreign texts", async () => {
    const { result } = await runExperiment(demoDomain, {
      out: dir,
      models: ["/m/copier"],
      quick: true,
      examples: 5,
      languageModel: () => majorityLabelModel(),
    });
    const root = join(dir, "demo-domain");
    const recount = recountRows(root, result);
    for (const [i, row] of result.rows.entries()) assert.equal(row.correct, recount[i]?.correct);
    const inDomain = new Set(
      classificationSplit("sentiment", { examples: 5 }).pool.map((e) => e.fields.input),
    );
    const other = new Set(
      classificationSplit("sentiment", { examples: 5, domain: "sentence" }).pool.map((e) => e.fields.input),
    );
    for (const cell of result.cells.filter((c) => c.coordinates.task === "sentiment")) {
      for (const record of cellRecords(root, cell.runDir) as ClassificationExampleRecord[]) {
        const inputs = record.demonstrations.map((d) => d.input);
        if (cell.coordinates.condition === "none") assert.equal(inputs.length, 0);
        if (cell.coordinates.condition === "in-domain") assert.ok(inputs.every((t) => inDomain.has(t)));
        if (cell.coordinates.condition === "other-domain") {
          assert.ok(inputs.every((t) => other.has(t)));
          assert.ok(record.demonstrations.every((d) => d.shown === d.gold));
        }
        if (cell.coordinates.condition === "ood-inputs") {
          assert.ok(inputs.every((t) => other.has(t)));
          assert.ok(record.demonstrations.every((d) => d.id?.startsWith("sentiment-phrase")));
        }
      }
    }
    const svg = readFileSync(join(root, "plot.svg"), "utf8");
    assert.equal(countMarks(svg, "rect", "bar", "path"), 4);
  });
});

describe("icl-numeric", () => {
  test("the generated task is balanced and follows its rule; an oracle scores 100% at every k", async () => {
    const task = numericTask(77, 40);
    assert.equal(task.filter((e) => e.label === "foo").length, 20);
    for (const example of task) {
      const sum = (example.fields.input as string).split(" ").reduce((a, b) => a + Number(b), 0);
      assert.equal(example.label, sum >= 13.5 ? "foo" : "bar");
    }
    const gold = new Map(task.map((e) => [e.fields.input as string, e.label]));
    const { result } = await runExperiment(iclNumeric, {
      out: dir,
      models: ["/m/oracle"],
      quick: true,
      examples: 6,
      languageModel: () => oracleModel((input) => gold.get(input)),
    });
    assert.deepEqual(
      result.rows.map((row) => [row.coordinates.k, row.accuracy]),
      [
        [0, 1],
        [4, 1],
      ],
    );
    const svg = readFileSync(join(dir, "icl-numeric", "plot.svg"), "utf8");
    assert.equal(countMarks(svg, "symbol", "point", "path"), 2);
  });
});

/** Answers every arithmetic / last-letter question it knows with "<reasoning> The answer is <gold>." */
function answeringModel(golds: Map<string, string>, wrongSample = -1): ScriptedLanguageModel {
  return new ScriptedLanguageModel({
    generate: (request, sample) => {
      const prompt = request.prompt as string;
      if (prompt.endsWith("Sub-questions:\n")) return "1. What is the first step?\n";
      const gold = golds.get(lastQuestion(prompt));
      if (gold === undefined) return " a step.";
      const answer = sample === wrongSample ? String(Number(gold) + 1) : gold;
      return {
        text: ` Some reasoning. The answer is ${answer}.`,
        finishReason: "stop",
        logprobs: [{ token: "x", logprob: sample === wrongSample ? -0.1 : -2 }],
      };
    },
  });
}

describe("cot", () => {
  test("direct exemplars show no reasoning; the table equals a recount", async () => {
    const golds = new Map(
      arithmeticTaskRecords({ seed: 1234, count: 40, digits: 1, steps: 2 }).map((r) => [r.text, r.label]),
    );
    const { result } = await runExperiment(cot, {
      out: dir,
      models: ["/m/answers"],
      quick: true,
      examples: 3,
      languageModel: () => answeringModel(golds),
    });
    const root = join(dir, "cot");
    const recount = recountRows(root, result);
    for (const [i, row] of result.rows.entries()) assert.equal(row.correct, recount[i]?.correct);
    assert.ok(result.rows.every((row) => row.accuracy === 1));
    const direct = result.cells.find((c) => c.coordinates.condition === "direct");
    const prompt = cellRecords(root, direct?.runDir as string)[0]?.prompts[0] as string;
    assert.match(prompt, /\nA: {2}The answer is \d+\./);
    const zeroShot = result.cells.find((c) => c.coordinates.condition === "zero-shot-cot");
    assert.match(
      cellRecords(root, zeroShot?.runDir as string)[0]?.prompts[0] as string,
      /Let's think step by step/,
    );
  });
});

describe("self-consistency", () => {
  test("accuracy at m paths is the vote of the first m recorded paths; weighted follows the weights", async () => {
    const golds = new Map(
      arithmeticTaskRecords({ seed: 1234, count: 40, digits: 1, steps: 2 }).map((r) => [r.text, r.label]),
    );
    // sample 0 is wrong with a high weight: majority at m=1 is wrong, at m=3 right; weighted stays wrong
    const { result } = await runExperiment(selfConsistencyExperiment, {
      out: dir,
      models: ["/m/sampler"],
      quick: true,
      examples: 3,
      languageModel: () => answeringModel(golds, 0),
    });
    const at = (vote: string, samples: number) =>
      result.rows.find((r) => r.coordinates.vote === vote && r.coordinates.samples === samples)?.accuracy;
    assert.equal(at("majority", 1), 0);
    assert.equal(at("majority", 3), 1);
    assert.equal(at("weighted", 3), 0);
    assert.equal(at("greedy", 1), 0);
    const sampled = result.cells.find((c) => c.coordinates.condition === "sampled");
    const records = cellRecords(join(dir, "self-consistency"), sampled?.runDir as string);
    assert.equal(records.length, 3);
    assert.ok(records.every((r) => r.outputs.length === 3 && r.correct));
    const svg = readFileSync(join(dir, "self-consistency", "plot.svg"), "utf8");
    assert.equal(countMarks(svg, "line", "line", "path"), 3);
    assert.deepEqual(result.tables[1]?.rows, [[2, 3, "100.0%"]]);
  });
});

describe("least-to-most", () => {
  test("both strategies run per list length and the table equals a recount", async () => {
    const golds = new Map<string, string>();
    for (const n of [2, 4])
      for (const r of lastLetterTaskRecords({ seed: 1234, count: 40, n })) golds.set(r.text, r.label);
    const { result } = await runExperiment(leastToMostExperiment, {
      out: dir,
      models: ["/m/answers"],
      quick: true,
      examples: 2,
      languageModel: () => answeringModel(golds),
    });
    const recount = recountRows(join(dir, "least-to-most"), result);
    for (const [i, row] of result.rows.entries()) assert.equal(row.correct, recount[i]?.correct);
    assert.equal(result.rows.length, 4);
    assert.ok(result.rows.every((row) => row.accuracy === 1 && row.coordinates.k === 1));
    const svg = readFileSync(join(dir, "least-to-most", "plot.svg"), "utf8");
    assert.equal(countMarks(svg, "line", "line", "path"), 2);
    // the one demonstration is a two-word list of the pool, never an evaluated list
    const cotCell = result.cells.find((c) => c.coordinates.strategy === "cot" && c.coordinates.words === 4);
    const prompt = cellRecords(join(dir, "least-to-most"), cotCell?.runDir as string)[0]
      ?.prompts[0] as string;
    const lists = [...prompt.matchAll(/words in "([^"]+)"/g)].map((m) => (m[1] as string).split(" ").length);
    assert.deepEqual(lists, [2, 4]);
    const demoTexts = new Set(leastToMostDemonstrations().map((d) => d.input));
    assert.ok(demoTexts.has(prompt.split("\n")[0]?.slice(3) as string));
    assert.ok(!golds.has(prompt.split("\n")[0]?.slice(3) as string));
  });

  test("a generation the engine cuts at the context is skipped and reported, not scored", async () => {
    const golds = new Map<string, string>();
    for (const n of [2, 4])
      for (const r of lastLetterTaskRecords({ seed: 1234, count: 40, n })) golds.set(r.text, r.label);
    const out = join(dir, "cut");
    // four-word lists: every generation stops after 3 of the 128 tokens asked, as the engine does when the
    // context is full (finishReason "length" with fewer tokens than asked)
    const cutting = new ScriptedLanguageModel({
      generate: (request) => {
        const prompt = request.prompt as string;
        const four = [...prompt.matchAll(/words in "([^"]+)"/g)].some(
          (m) => (m[1] as string).split(" ").length === 4,
        );
        if (four) return { text: " The answer", finishReason: "length" };
        if (prompt.endsWith("Sub-questions:\n")) return "1. What is the first step?\n";
        const gold = golds.get(lastQuestion(prompt));
        return gold === undefined ? " a step." : ` Some reasoning. The answer is ${gold}.`;
      },
    });
    const { result } = await runExperiment(leastToMostExperiment, {
      out,
      models: ["/m/cut"],
      quick: true,
      examples: 2,
      languageModel: () => cutting,
    });
    for (const strategy of ["cot", "least-to-most"]) {
      const long = result.rows.find((r) => r.coordinates.strategy === strategy && r.coordinates.words === 4);
      assert.equal(long?.total, 0);
      assert.equal(long?.excluded, 2);
      const short = result.rows.find((r) => r.coordinates.strategy === strategy && r.coordinates.words === 2);
      assert.deepEqual([short?.correct, short?.total, short?.excluded], [2, 2, 0]);
    }
    const skipped = result.tables.find((t) => t.title.startsWith("Examples skipped"));
    assert.equal(skipped?.rows.length, 2);
    assert.match(String(skipped?.rows[0]?.[5]), /prompt \d+ tokens \+ up to 128 new tokens > context/);
    const main = result.tables[0];
    assert.ok(main?.columns.includes("too long"));
  });
});
