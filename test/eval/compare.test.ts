// The comparison library on a tiny random BERT (methods) and a scripted LM (strategies) over a toy two-class
// task whose label is a keyword: one row per requested method and strategy on the same test examples, every
// number recounted from what the rows recorded, demonstrations drawn from train only, resume that keeps
// finished rows without recomputing them, and typed errors.

import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { AdaptlmError } from "../../src/errors.js";
import {
  type CompareEvent,
  type CompareReport,
  type CompareRow,
  readCompareReport,
  runComparison,
} from "../../src/eval/compare.js";
import type { ExampleRecord, RunSetup } from "../../src/eval/results-store.js";
import { makeTempDir } from "../io/temp-dir.js";
import { ScriptedLanguageModel } from "../lm/scripted-language-model.js";
import { writeTinyBertFolder } from "../models/model-fixtures.js";

const subjects = ["the movie was", "this book is", "our dinner felt", "that song sounds", "the trip was"];

/** train/test JSONL files: label pos iff the text says "great"; every test text carries a unique marker. */
function writeTask(dir: string, trainCount: number, testCount: number): void {
  const lines = (n: number, split: string) =>
    Array.from({ length: n }, (_, i) => {
      const positive = i % 2 === 0;
      const marker = split === "test" ? ` marker${i}x` : "";
      const text = `${subjects[i % subjects.length]} ${positive ? "great" : "awful"}${marker}`;
      return JSON.stringify({ sentence: text, sentiment: positive ? "pos" : "neg" });
    }).join("\n");
  writeFileSync(join(dir, "train.jsonl"), `${lines(trainCount, "train")}\n`);
  writeFileSync(join(dir, "test.jsonl"), `${lines(testCount, "test")}\n`);
}

/** The last "Input: ..." line of a prompt: the query. */
function queryOf(prompt: string): string {
  const inputs = prompt.split("\n").filter((line) => line.startsWith("Input: "));
  return inputs.at(-1) ?? "";
}

/**
 * Right on "great"/"awful" texts, except it calls every "song" text negative: an imperfect model. It fails
 * (a server going away) after `failAfter` calls; it induces one fixed instruction for APE.
 */
function scriptedLm(failAfter = Number.POSITIVE_INFINITY): ScriptedLanguageModel {
  let calls = 0;
  return new ScriptedLanguageModel({
    capabilities: { n: false },
    generate: (request) =>
      String(request.prompt).includes("The instruction was") ? ' "Say pos when it is great, else neg."' : "",
    score: (prompt, continuation) => {
      if (++calls > failAfter) throw new Error("connection reset");
      const query = queryOf(prompt);
      const positive = query.includes("great") && !query.includes("song");
      return continuation.trim() === (positive ? "pos" : "neg") ? -0.5 : -2;
    },
  });
}

function recount(row: CompareRow): number {
  return row.examples.filter((e) => e.correct).length / row.examples.length;
}

function folderSize(dir: string): number {
  return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

const common = {
  textField: "sentence",
  labelField: "sentiment",
  maxSteps: 8,
  batchSize: 8,
  seed: 3,
  bootstrapSamples: 200,
};

describe("runComparison", () => {
  const encoder = writeTinyBertFolder({ mlmHead: false });
  const taskDir = makeTempDir("compare-task");
  writeTask(taskDir, 24, 20);
  const testIds = Array.from({ length: 20 }, (_, i) => `test-${i}`);

  test("one row per method and strategy, numbers recounted from the recorded examples", async () => {
    const out = join(makeTempDir("compare-run"), "run");
    const lm = scriptedLm();
    const events: CompareEvent[] = [];
    const report = await runComparison({
      ...common,
      task: taskDir,
      encoder,
      methods: ["full", "lora"],
      lm,
      strategies: ["zero-shot", "few-shot:4", "least-to-most"],
      outputDir: out,
      price: { inputPerMillion: 1, outputPerMillion: 2 },
      onEvent: (event) => events.push(event),
    });
    assert.deepEqual(
      report.rows.map((r) => `${r.kind}:${r.name}:${r.status}`),
      [
        "method:full:done",
        "method:lora:done",
        "strategy:zero-shot:done",
        "strategy:few-shot:4:done",
        "strategy:least-to-most:skipped",
      ],
    );
    assert.deepEqual(readCompareReport(out), report, "compare.json holds the returned report");
    assert.equal(report.version, 1);
    assert.equal(report.setup.testExamples, 20);
    assert.deepEqual(report.setup.labels, ["neg", "pos"]);

    for (const row of report.rows.filter((r) => r.status === "done")) {
      const m = row.metric;
      assert.ok(m, row.name);
      assert.deepEqual(
        row.examples.map((e) => e.id),
        testIds,
        `${row.name}: the same test examples, in order`,
      );
      assert.equal(m.value, recount(row), row.name);
      assert.equal(m.correct, row.examples.filter((e) => e.correct).length);
      assert.equal(m.total, 20);
      assert.ok(m.low <= m.value && m.value <= m.high, `${row.name}: ${m.low} <= ${m.value} <= ${m.high}`);
      assert.equal(m.level, 0.95);
    }

    // Methods: the predictions file agrees with the row; LoRA trains fewer parameters than full fine-tuning;
    // stored bytes are the saved folder on disk.
    const [full, lora] = report.rows;
    assert.ok(full && lora);
    for (const row of [full, lora]) {
      const predictions = readFileSync(join(out, "train", row.name, "test_predictions.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { id: string; correct: boolean; gold: string });
      assert.deepEqual(
        predictions.map((p) => p.correct),
        row.examples.map((e) => e.correct),
      );
      assert.equal(row.storedBytes, folderSize(join(out, row.artifacts as string)));
      assert.ok((row.trainingSeconds as number) > 0);
      assert.ok((row.tokensPerExample as number) > 3, "encoder input tokens per example");
      assert.equal(row.cost, null);
    }
    assert.equal(lora.artifacts, join("train", "lora", "adapter"));
    assert.equal(full.artifacts, join("train", "full", "model"));
    assert.ok((lora.trainableParameters as number) < (full.trainableParameters as number));
    assert.ok((lora.storedBytes as number) < (full.storedBytes as number));

    // Strategies: 0 trainable parameters, positive tokens; the scripted model is wrong exactly on the
    // positive "song" texts (i % 10 === 8 among even i < 20: 2 of 20), so both score 18/20.
    const [zeroShot, fewShot, leastToMost] = report.rows.slice(2);
    assert.ok(zeroShot && fewShot && leastToMost);
    for (const row of [zeroShot, fewShot]) {
      assert.equal(row.trainableParameters, 0);
      assert.ok((row.tokensPerExample as number) > 0);
      assert.ok((row.storedBytes as number) > 0);
      assert.ok((row.cost as number) > 0, "priced");
      assert.equal(row.metric?.correct, 18);
      const records = readFileSync(join(out, row.artifacts as string, "examples.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as ExampleRecord);
      assert.deepEqual(
        records.map((r) => r.correct),
        row.examples.map((e) => e.correct),
        `${row.name}: recount from the results store`,
      );
    }
    // Demonstrations cost bytes and tokens: few-shot stores more prompt text than zero-shot.
    assert.ok((fewShot.storedBytes as number) > (zeroShot.storedBytes as number) + 40);
    assert.ok((fewShot.tokensPerExample as number) > (zeroShot.tokensPerExample as number));
    // Demonstrations come from train only: no prompt shows a test text besides its own query.
    for (const call of lm.calls) {
      assert.equal(call.kind, "score");
      const markers = (call.kind === "score" ? call.prompt : "").match(/marker\d+x/g) ?? [];
      assert.ok(markers.length <= 1, `a prompt shows test examples ${markers.join(", ")}`);
    }
    assert.match(leastToMost.skipReason ?? "", /decomposition/);
    assert.equal(leastToMost.metric, null);
    assert.ok(events.some((e) => e.type === "row-skipped" && e.row.name === "least-to-most"));
    assert.ok(events.some((e) => e.type === "train-progress" && e.name === "lora"));
  });

  test("resume keeps finished rows without recomputing them and adds the new one", async () => {
    const out = join(makeTempDir("compare-resume"), "run");
    const first = scriptedLm();
    const options = { ...common, task: taskDir, encoder, outputDir: out };
    const before = await runComparison({
      ...options,
      methods: ["lora"],
      lm: first,
      strategies: ["zero-shot"],
    });
    assert.equal(before.rows.length, 2);
    const firstCalls = first.calls.length;
    assert.ok(firstCalls > 0);

    await assert.rejects(
      runComparison({ ...options, methods: ["lora"], lm: scriptedLm(), strategies: ["zero-shot"] }),
      (error: AdaptlmError) => error.code === "COMPARE_OUT_EXISTS" && /--resume/.test(error.message),
    );

    const second = scriptedLm();
    const events: CompareEvent[] = [];
    const after: CompareReport = await runComparison({
      ...options,
      methods: ["lora"],
      lm: second,
      strategies: ["zero-shot", "instructions"],
      resume: true,
      onEvent: (event) => events.push(event),
    });
    assert.deepEqual(
      events.filter((e) => e.type === "row-reused").map((e) => (e.type === "row-reused" ? e.row.name : "")),
      ["lora", "zero-shot"],
    );
    assert.deepEqual(
      events.filter((e) => e.type === "row-start").map((e) => (e.type === "row-start" ? e.name : "")),
      ["instructions"],
    );
    assert.ok(!events.some((e) => e.type === "train-progress"), "lora was not trained again");
    assert.deepEqual(after.rows.slice(0, 2), before.rows);
    // The new row alone asked the model: 20 test examples x 2 labels.
    assert.equal(second.calls.length, 40);
    assert.ok(second.calls.every((c) => c.kind === "score" && c.prompt.startsWith("Read the input")));
    assert.equal(after.rows[2]?.metric?.value, recount(after.rows[2] as CompareRow));
    assert.deepEqual(
      readCompareReport(out)?.rows.map((r) => r.name),
      ["lora", "zero-shot", "instructions"],
    );
  });

  test("a single file is split with the seed; bad requests are typed errors", async () => {
    const file = join(makeTempDir("compare-file"), "all.jsonl");
    writeFileSync(file, readFileSync(join(taskDir, "train.jsonl")));
    const out = join(makeTempDir("compare-split"), "run");
    const report = await runComparison({
      ...common,
      task: file,
      lm: scriptedLm(),
      strategies: ["zero-shot", "few-shot:30"],
      outputDir: out,
    });
    assert.equal(report.setup.testExamples, 5);
    assert.equal(report.setup.trainExamples, 19);
    assert.deepEqual(report.setup.split, { kind: "seeded", testFraction: 0.2 });
    assert.equal(report.rows[1]?.status, "skipped");
    assert.match(report.rows[1]?.skipReason ?? "", /needs 30 demonstrations but the train split has 19/);

    // A test label train never had: zero-shot would offer it as a candidate to that example alone, so it is
    // skipped; instructions classifies among the train labels and gets that example wrong.
    const unseenDir = makeTempDir("compare-unseen");
    writeTask(unseenDir, 12, 6);
    const testLines = readFileSync(join(unseenDir, "test.jsonl"), "utf8").trim().split("\n");
    testLines.push(JSON.stringify({ sentence: "the film was meh", sentiment: "mixed" }));
    writeFileSync(join(unseenDir, "test.jsonl"), `${testLines.join("\n")}\n`);
    const unseen = await runComparison({
      ...common,
      task: unseenDir,
      lm: scriptedLm(),
      strategies: ["zero-shot", "instructions"],
      outputDir: join(unseenDir, "run"),
    });
    assert.equal(unseen.rows[0]?.status, "skipped");
    assert.match(unseen.rows[0]?.skipReason ?? "", /test labels \["mixed"\] are not among the train labels/);
    assert.equal(unseen.rows[1]?.metric?.total, 7);
    assert.equal(unseen.rows[1]?.examples.at(-1)?.correct, false);

    const expectCode = async (code: string, pattern: RegExp, options: Parameters<typeof runComparison>[0]) =>
      assert.rejects(runComparison(options), (error: AdaptlmError) => {
        assert.equal(error.code, code);
        assert.match(error.message, pattern);
        return true;
      });
    const dir = join(makeTempDir("compare-errors"), "run");
    await expectCode("COMPARE_NOTHING_TO_COMPARE", /--encoder.*--lm/, { task: file, outputDir: dir });
    await expectCode(
      "COMPARE_UNKNOWN_METHOD",
      /valid methods are full, bitfit, houlsby, adapter-bias, prefix, lora, prompt/,
      {
        task: file,
        encoder,
        methods: ["lora", "adalora"],
        outputDir: dir,
      },
    );
    await expectCode(
      "COMPARE_UNKNOWN_STRATEGY",
      /unknown strategy "tree-of-thought": valid strategies are zero-shot, instructions/,
      {
        task: file,
        lm: scriptedLm(),
        strategies: ["tree-of-thought"],
        outputDir: dir,
      },
    );
    await expectCode("COMPARE_NO_ENCODER", /need --encoder/, {
      task: file,
      lm: scriptedLm(),
      methods: ["lora"],
      outputDir: dir,
    });
  });

  test("an interrupted prompting row resumes per example; its tokens count every example once", async () => {
    const options = { ...common, task: taskDir, strategies: ["zero-shot"] };
    const whole = await runComparison({
      ...options,
      lm: scriptedLm(),
      outputDir: join(makeTempDir("compare-whole"), "run"),
    });
    const out = join(makeTempDir("compare-interrupted"), "run");
    // 2 score calls per example: the 11th call (the 6th example) fails after 5 examples are recorded.
    await assert.rejects(
      runComparison({ ...options, lm: scriptedLm(10), outputDir: out }),
      /connection reset/,
    );
    assert.deepEqual(readCompareReport(out)?.rows, [], "the setup is saved, no row is finished");
    const lm = scriptedLm();
    const events: CompareEvent[] = [];
    const report = await runComparison({
      ...options,
      lm,
      outputDir: out,
      resume: true,
      onEvent: (e) => events.push(e),
    });
    assert.equal(lm.calls.length, 30, "only the 15 unanswered examples are asked");
    const last = events.filter((e) => e.type === "prompt-progress").at(-1);
    assert.equal(last?.type === "prompt-progress" ? last.resumed : -1, 5);
    const [row] = report.rows;
    const [reference] = whole.rows;
    assert.ok(row && reference);
    assert.deepEqual(row.examples, reference.examples);
    assert.deepEqual(row.metric, reference.metric);
    assert.equal(row.tokensPerExample, reference.tokensPerExample);

    await assert.rejects(
      runComparison({ ...options, seed: 4, lm: scriptedLm(), outputDir: out, resume: true }),
      (error: AdaptlmError) =>
        error.code === "COMPARE_SETUP_MISMATCH" && /seed: recorded 3, now 4/.test(error.message),
    );
  });

  test("instructions and APE classify with an instruction; APE searches it on train and keeps it", async () => {
    const out = join(makeTempDir("compare-ape"), "run");
    const lm = scriptedLm();
    const report = await runComparison({
      ...common,
      task: taskDir,
      lm,
      strategies: ["instructions", "ape"],
      instruction: "Label the sentiment.",
      outputDir: out,
    });
    const [instructions, ape] = report.rows;
    assert.ok(instructions && ape);
    assert.equal(instructions.metric?.correct, 18);
    assert.equal(ape.metric?.correct, 18);
    assert.equal(instructions.trainingSeconds, 0);
    assert.ok((ape.setupTokens as number) > 0, "the search's tokens are reported apart");
    const chosen = JSON.parse(readFileSync(join(out, "prompt", "ape", "ape-instruction.json"), "utf8")) as {
      instruction: string;
    };
    assert.equal(chosen.instruction, "Say pos when it is great, else neg.");
    const firstPrompt = (dir: string) =>
      (
        JSON.parse(
          readFileSync(join(out, dir, "examples.jsonl"), "utf8").split("\n")[0] as string,
        ) as ExampleRecord
      ).prompts[0];
    assert.match(
      firstPrompt(instructions.artifacts as string),
      /^Label the sentiment\.\nPossible labels: neg, pos\./,
    );
    assert.match(firstPrompt(ape.artifacts as string), /^Say pos when it is great, else neg\.\n/);
    // The search saw train pairs only.
    const searchPrompts = lm.calls.map((c) => (c.kind === "score" ? c.prompt : String(c.request.prompt)));
    assert.ok(searchPrompts.every((p) => (p.match(/marker\d+x/g) ?? []).length <= 1));
  });

  test("cot and self-consistency show train rationales; without them they are skipped rows", async () => {
    const dir = makeTempDir("compare-cot");
    writeTask(dir, 12, 6);
    const train = readFileSync(join(dir, "train.jsonl"), "utf8").trim().split("\n");
    const withRationales = train.map((line) => {
      const record = JSON.parse(line) as { sentence: string; sentiment: string };
      const word = record.sentence.split(" ").at(-1);
      return JSON.stringify({ ...record, rationale: `It says ${word}.` });
    });
    // Reasoning from the question's keyword: right on every example.
    const lm = new ScriptedLanguageModel({
      capabilities: { n: false },
      generate: (request) => {
        const question =
          String(request.prompt)
            .split("\n")
            .filter((l) => l.startsWith("Q: "))
            .at(-1) ?? "";
        const great = question.includes("great");
        return ` It says ${great ? "great" : "awful"}. The answer is ${great ? "pos" : "neg"}.`;
      },
    });
    const options = { ...common, lm, strategies: ["cot:2", "self-consistency:2"], samples: 3 };
    const skipped = await runComparison({ ...options, task: dir, outputDir: join(dir, "run-plain") });
    assert.deepEqual(
      skipped.rows.map((r) => r.status),
      ["skipped", "skipped"],
    );
    assert.match(skipped.rows[0]?.skipReason ?? "", /rationale/);
    assert.equal(lm.calls.length, 0);

    writeFileSync(join(dir, "train.jsonl"), `${withRationales.join("\n")}\n`);
    const report = await runComparison({ ...options, task: dir, outputDir: join(dir, "run-rationales") });
    const [cot, sc] = report.rows;
    assert.equal(cot?.metric?.correct, 6);
    assert.equal(sc?.metric?.correct, 6);
    // 6 CoT requests, then 3 sampled paths for each of the 6 examples.
    assert.equal(lm.calls.length, 6 + 18);
    for (const request of lm.generateRequests) {
      const prompt = String(request.prompt);
      assert.equal((prompt.match(/It says (great|awful)\./g) ?? []).length, 2, "two train rationales");
      assert.ok((prompt.match(/marker\d+x/g) ?? []).length === 1, "only the query is a test example");
    }
  });

  test("prompt and prefix tuning leave position-table room for their virtual tokens on long inputs", async () => {
    const dir = makeTempDir("compare-long");
    writeTask(dir, 8, 4);
    // ~100 tokens: longer than the tiny encoder's 64 positions.
    const long = (label: string) =>
      JSON.stringify({
        sentence: `${"word ".repeat(100)}${label === "pos" ? "great" : "awful"}`,
        sentiment: label,
      });
    for (const split of ["train", "test"])
      writeFileSync(
        join(dir, `${split}.jsonl`),
        `${readFileSync(join(dir, `${split}.jsonl`), "utf8")}${long("pos")}\n${long("neg")}\n`,
      );
    const report = await runComparison({
      ...common,
      maxSteps: 2,
      task: dir,
      encoder,
      methods: ["prompt", "prefix"],
      outputDir: join(dir, "run"),
    });
    assert.deepEqual(
      report.rows.map((r) => [r.name, r.status, r.metric?.total]),
      [
        ["prompt", "done", 6],
        ["prefix", "done", 6],
      ],
    );
    assert.equal(report.setup.encoder?.maxLength, 64);
    // Prompt tuning reads at most 64 - 20 input tokens plus its 20 virtual tokens.
    assert.ok((report.rows[0]?.tokensPerExample as number) <= 64);
  });

  test("a moved folder resumes: paths are recorded relative to it, old absolute ones are still read", async () => {
    const options = { ...common, strategies: ["few-shot:2"] };
    const base = makeTempDir("compare-move");
    const folder = (...parts: string[]) => {
      const path = join(base, ...parts);
      mkdirSync(path, { recursive: true });
      return path;
    };
    const whole = await runComparison({
      ...options,
      task: taskDir,
      lm: scriptedLm(),
      outputDir: join(folder("whole"), "run"),
    });
    // interrupted after 5 of 20 examples (2 score calls each), then moved one level deeper elsewhere
    const first = join(folder("a"), "run");
    await assert.rejects(runComparison({ ...options, task: taskDir, lm: scriptedLm(10), outputDir: first }));
    const setup = readCompareReport(first)?.setup;
    // the task lies outside the folder and does not move with it: recorded where it is
    assert.equal(setup?.task, taskDir);
    const runFile = join(first, "prompt", "few-shot-2", "run.json");
    const run = JSON.parse(readFileSync(runFile, "utf8")) as RunSetup;
    assert.equal(run.taskFile, "data/test.jsonl");
    assert.equal(run.options.demonstrationPool, "data/train.jsonl");

    const moved = join(folder("b", "deeper"), "run");
    renameSync(first, moved);
    const lm = scriptedLm();
    const report = await runComparison({ ...options, task: taskDir, lm, outputDir: moved, resume: true });
    assert.equal(lm.calls.length, 30, "only the 15 unanswered examples are asked");
    assert.deepEqual(report.rows[0]?.examples, whole.rows[0]?.examples);

    // a folder written with absolute paths (before this change), moved: rewrite its files as they were
    const legacy = join(folder("c"), "run");
    await assert.rejects(runComparison({ ...options, task: taskDir, lm: scriptedLm(10), outputDir: legacy }));
    const compareFile = join(legacy, "compare.json");
    const old = JSON.parse(readFileSync(compareFile, "utf8")) as CompareReport;
    const { data: _data, ...oldSetup } = old.setup;
    writeFileSync(compareFile, JSON.stringify({ ...old, setup: { ...oldSetup, task: taskDir } }));
    const legacyRun = join(legacy, "prompt", "few-shot-2", "run.json");
    const oldRun = JSON.parse(readFileSync(legacyRun, "utf8")) as RunSetup;
    const absolute = (file: string) => join(legacy, file);
    writeFileSync(
      legacyRun,
      JSON.stringify({
        ...oldRun,
        taskFile: absolute("data/test.jsonl"),
        options: { ...oldRun.options, demonstrationPool: absolute("data/train.jsonl") },
      }),
    );
    const legacyMoved = join(folder("d"), "run");
    renameSync(legacy, legacyMoved);
    const legacyLm = scriptedLm();
    const resumed = await runComparison({
      ...options,
      task: taskDir,
      lm: legacyLm,
      outputDir: legacyMoved,
      resume: true,
    });
    assert.equal(legacyLm.calls.length, 30);
    assert.deepEqual(resumed.rows[0]?.examples, whole.rows[0]?.examples);
    assert.match(
      readCompareReport(legacyMoved)?.setup.data ?? "",
      /^sha256:/,
      "the task's data is recorded now",
    );

    // the task is known by its data: a moved copy resumes, other data does not; a task inside the folder is
    // recorded relative to it and moves with it
    const inside = folder("e", "run");
    const insideTask = join(inside, "task");
    mkdirSync(insideTask);
    writeTask(insideTask, 24, 20);
    await runComparison({ ...options, task: insideTask, lm: scriptedLm(), outputDir: inside });
    assert.equal(readCompareReport(inside)?.setup.task, "task");
    const insideMoved = join(folder("f"), "run");
    renameSync(inside, insideMoved);
    const insideLm = scriptedLm();
    await runComparison({
      ...options,
      task: join(insideMoved, "task"),
      lm: insideLm,
      outputDir: insideMoved,
      resume: true,
    });
    assert.equal(insideLm.calls.length, 0, "the finished row is reused");
    const copy = folder("task-copy");
    writeTask(copy, 24, 20);
    await runComparison({ ...options, task: copy, lm: scriptedLm(), outputDir: moved, resume: true });
    const other = folder("task-other");
    writeTask(other, 24, 18);
    await assert.rejects(
      runComparison({ ...options, task: other, lm: scriptedLm(), outputDir: moved, resume: true }),
      (error: AdaptlmError) => error.code === "COMPARE_SETUP_MISMATCH" && /task:/.test(error.message),
    );
  });
});
