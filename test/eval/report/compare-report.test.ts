// The report of a folder written by the real `runComparison` (src/eval/compare.ts): LoRA on a tiny random
// BERT and two prompting strategies on a scripted LM, over a toy keyword task. The report must show the
// comparison's numbers as they are, link each row's folders to it, and plot every result once.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runComparison } from "../../../src/eval/compare.js";
import { renderReportHtml } from "../../../src/eval/report/html-report.js";
import { loadReportInput } from "../../../src/eval/report/load-report-input.js";
import { makeTempDir } from "../../io/temp-dir.js";
import { ScriptedLanguageModel } from "../../lm/scripted-language-model.js";
import { writeTinyBertFolder } from "../../models/model-fixtures.js";
import { countMarks, figure } from "./svg-marks.js";

function writeTask(dir: string): void {
  const lines = (n: number) =>
    Array.from({ length: n }, (_, i) => {
      const positive = i % 2 === 0;
      return JSON.stringify({
        text: `item ${i} was ${positive ? "great" : "awful"}`,
        label: positive ? "pos" : "neg",
      });
    }).join("\n");
  writeFileSync(join(dir, "train.jsonl"), `${lines(16)}\n`);
  writeFileSync(join(dir, "test.jsonl"), `${lines(10)}\n`);
}

/** Right except on items 3 and 4 of any prompt: scores the right label higher. */
function scriptedLm(): ScriptedLanguageModel {
  return new ScriptedLanguageModel({
    capabilities: { n: false },
    score: (prompt, continuation) => {
      const query =
        prompt
          .split("\n")
          .filter((l) => l.startsWith("Input: "))
          .at(-1) ?? "";
      let positive = query.includes("great");
      if (/item [34] /.test(query)) positive = !positive;
      return continuation.trim() === (positive ? "pos" : "neg") ? -0.5 : -2;
    },
  });
}

describe("report of an adaptlm compare folder", () => {
  test("the comparison table as compare.json says, its rows' runs linked, each result plotted once", async () => {
    const taskDir = makeTempDir("report-compare-task");
    writeTask(taskDir);
    const out = join(makeTempDir("report-compare-run"), "run");
    const report = await runComparison({
      task: taskDir,
      encoder: writeTinyBertFolder({ mlmHead: false }),
      methods: ["lora"],
      lm: scriptedLm(),
      strategies: ["zero-shot", "few-shot:4"],
      maxSteps: 4,
      batchSize: 8,
      seed: 1,
      bootstrapSamples: 200,
      outputDir: out,
    });
    const input = loadReportInput(out);
    const saved = JSON.parse(readFileSync(join(out, "compare.json"), "utf8")) as typeof report;
    assert.deepEqual(
      saved.rows.map((r) => r.name),
      ["lora", "zero-shot", "few-shot:4"],
    );

    // the table: one row per comparison row, accuracy with the comparison's own interval
    assert.equal(input.tables.length, 1);
    assert.deepEqual(
      input.tables[0]?.rows.map((r) => [r[0], r[2]]),
      saved.rows.map((r) => [
        r.name,
        { value: r.metric?.value, low: r.metric?.low, high: r.metric?.high, percent: true },
      ]),
    );
    // every run folder of the comparison is a run of the report, linked to its row; none is plotted twice
    assert.ok(input.runs.length >= 3, JSON.stringify(input.runs.map((r) => r.id)));
    for (const run of input.runs)
      assert.ok(run.comparison?.startsWith("run: "), `${run.id}: ${run.comparison}`);
    const lora = input.runs.find((r) => r.comparison === "run: lora");
    // its test accuracy, recounted from test_predictions.jsonl, is the row's
    assert.equal(lora?.metric?.value, saved.rows[0]?.metric?.value);
    // and its task comes from the comparison's setup
    assert.equal(lora?.task, taskDir);
    const html = await renderReportHtml(input);
    assert.equal(
      countMarks(figure(html, "Specialists: metric vs trainable parameters"), "symbol", "point", "path"),
      1,
    );
    assert.equal(
      countMarks(figure(html, "Generalists: accuracy vs tokens per example"), "symbol", "point", "path"),
      2,
    );
    const bars = figure(html, "Accuracy with 95% CI: run");
    assert.equal(countMarks(bars, "rect", "bar", "path"), 3);
    assert.equal(countMarks(bars, "rule", "error-bar", "line"), 3);
  });
});
