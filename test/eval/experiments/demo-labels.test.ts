// demo-labels with a scripted model that copies the demonstrations' majority label: the table equals a
// recount of the recorded examples, the conditions built the prompts they claim (no demos, gold labels,
// seeded random labels), a re-run skips every finished cell without calling the model, the plot has one line
// per condition, and the CLI prints the setup before the table.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runExperimentCommand } from "../../../src/cli/commands/experiment.js";
import { AdaptlmError } from "../../../src/errors.js";
import type { ClassificationExampleRecord } from "../../../src/eval/experiments/classification-cell.js";
import { demoLabels } from "../../../src/eval/experiments/demo-labels.js";
import { runExperiment } from "../../../src/eval/experiments/runner.js";
import { loadReportInput } from "../../../src/eval/report/load-report-input.js";
import { makeTempDir } from "../../io/temp-dir.js";
import { ScriptedLanguageModel } from "../../lm/scripted-language-model.js";
import { countMarks } from "../report/svg-marks.js";
import { cellRecords, majorityLabelModel, recountRows, shownLabels } from "./experiment-helpers.js";

const dir = makeTempDir("experiment-demo-labels");

describe("demo-labels", () => {
  const lm = majorityLabelModel();
  const run = () =>
    runExperiment(demoLabels, {
      out: dir,
      models: ["/models/scripted"],
      quick: true,
      seeds: 2,
      examples: 6,
      languageModel: () => lm,
    });

  test("table numbers equal a recount of the recorded examples", async () => {
    const { result, ran } = await run();
    // quick: 2 tasks x (none + k=4 x {gold, random} x 2 seeds)
    assert.equal(ran, 2 * (1 + 2 * 2));
    assert.equal(result.complete, true);
    const recount = recountRows(join(dir, "demo-labels"), result);
    result.rows.forEach((row, i) => {
      assert.equal(row.correct, recount[i]?.correct);
      assert.equal(row.total, recount[i]?.total);
      assert.ok(row.low <= row.accuracy && row.accuracy <= row.high);
    });
    assert.deepEqual(
      result.rows.map((row) => row.total),
      result.rows.map((row) => (row.coordinates.condition === "none" ? 6 : 12)),
    );
    assert.equal(JSON.parse(readFileSync(join(dir, "demo-labels", "result.json"), "utf8")).version, 1);
    // the prediction table: without demonstrations the copier always answers the first label
    const predictions = result.tables[1];
    assert.equal(predictions?.title, "Predicted labels (share of the answers)");
    const none = predictions?.rows.find((row) => row[1] === "sentiment" && row[2] === "none");
    assert.deepEqual(none?.slice(4), ["positive", "100.0%", "positive 6"]);
  });

  test("conditions build their prompts: none has no demonstrations, gold shows gold, random is seeded", () => {
    const result = JSON.parse(readFileSync(join(dir, "demo-labels", "result.json"), "utf8"));
    const cellsOf = (condition: string) =>
      result.cells.filter(
        (cell: { coordinates: { condition: string } }) => cell.coordinates.condition === condition,
      );
    for (const cell of cellsOf("none")) {
      for (const record of cellRecords(join(dir, "demo-labels"), cell.runDir)) {
        assert.deepEqual(shownLabels(record.prompts[0] as string), []);
        // the majority copier without demonstrations picks the first label
        assert.equal(
          record.answer,
          ["positive", "animal"][result.setup.tasks.indexOf(cell.coordinates.task)],
        );
      }
    }
    let randomDiffers = 0;
    for (const condition of ["gold", "random"]) {
      for (const cell of cellsOf(condition)) {
        const records = cellRecords(join(dir, "demo-labels"), cell.runDir) as ClassificationExampleRecord[];
        for (const record of records) {
          assert.equal(record.demonstrations.length, 4);
          assert.deepEqual(
            shownLabels(record.prompts[0] as string),
            record.demonstrations.map((d) => d.shown),
          );
          for (const demo of record.demonstrations) {
            if (condition === "gold") assert.equal(demo.shown, demo.gold);
            else if (demo.shown !== demo.gold) randomDiffers++;
          }
        }
      }
    }
    assert.ok(randomDiffers > 0, "random labels differ from gold somewhere");
  });

  test("random labels are seeded: a fresh run draws the same prompts", async () => {
    const other = makeTempDir("experiment-demo-labels-again");
    const first = JSON.parse(readFileSync(join(dir, "demo-labels", "result.json"), "utf8"));
    const { result } = await runExperiment(demoLabels, {
      out: other,
      models: ["/models/scripted"],
      quick: true,
      seeds: 2,
      examples: 6,
      languageModel: () => majorityLabelModel(),
    });
    for (const cell of result.cells) {
      const again = cellRecords(join(other, "demo-labels"), cell.runDir).map((r) => r.prompts);
      const before = cellRecords(join(dir, "demo-labels"), cell.runDir).map((r) => r.prompts);
      assert.deepEqual(again, before);
    }
    assert.deepEqual(result.rows, first.rows);
  });

  test("a re-run skips every finished cell and calls nothing", async () => {
    const calls = lm.calls.length;
    const { ran, skipped } = await run();
    assert.equal(ran, 0);
    assert.equal(skipped, 10);
    assert.equal(lm.calls.length, calls);
  });

  test("an unfinished cell resumes per example", async () => {
    const out = makeTempDir("experiment-demo-labels-resume");
    const model = majorityLabelModel();
    const options = {
      out,
      models: ["/models/scripted"],
      quick: true,
      seeds: 1,
      examples: 4,
      languageModel: () => model,
    };
    await runExperiment(demoLabels, options);
    const resultPath = join(out, "demo-labels", "result.json");
    const result = JSON.parse(readFileSync(resultPath, "utf8"));
    // forget the last cell in result.json and the last example of its store: only that example is re-asked
    const last = result.cells.pop();
    const { writeFileSync } = await import("node:fs");
    writeFileSync(resultPath, JSON.stringify(result));
    const examplesPath = join(out, "demo-labels", last.runDir, "examples.jsonl");
    const lines = readFileSync(examplesPath, "utf8").trimEnd().split("\n");
    writeFileSync(examplesPath, `${lines.slice(0, -1).join("\n")}\n`);
    const calls = model.calls.length;
    const again = await runExperiment(demoLabels, options);
    assert.equal(again.ran, 1);
    // one example, two candidate labels scored
    assert.equal(model.calls.length - calls, 2);
    assert.equal(cellRecords(join(out, "demo-labels"), last.runDir).length, 4);
  });

  test("the plot has one line per condition with one point per k", () => {
    const svg = readFileSync(join(dir, "demo-labels", "plot.svg"), "utf8");
    assert.equal(countMarks(svg, "line", "line", "path"), 3);
    assert.equal(countMarks(svg, "symbol", "point", "path"), 3);
  });

  test("the CLI prints the setup, then the table", async () => {
    let out = "";
    let err = "";
    await runExperimentCommand(
      [
        "demo-labels",
        "--quick",
        "--seeds",
        "2",
        "--examples",
        "6",
        "--out",
        dir,
        "--model",
        "/models/scripted",
      ],
      { languageModel: () => lm, stdout: (t) => (out += t), stderr: (t) => (err += t) },
    );
    const setupAt = out.indexOf('models: ["/models/scripted"]');
    const tableAt = out.indexOf("accuracy");
    assert.ok(setupAt >= 0 && out.includes("seeds: 2") && out.includes("examplesPerCell: 6"), out);
    assert.ok(out.indexOf("finding:") < tableAt && setupAt < out.indexOf("95% CI"));
    assert.match(out, /sentiment\s+none\s+0\s+/);
    assert.ok(err.includes("finished earlier, skipped"));
    assert.ok(existsSync(join(dir, "demo-labels", "plot.svg")));
  });

  test("adaptlm report shows the experiment's table (with intervals) and plot, not its cells as runs", () => {
    const input = loadReportInput(dir);
    const table = input.tables.find((t) => t.title.startsWith("Experiment demo-labels"));
    const result = JSON.parse(readFileSync(join(dir, "demo-labels", "result.json"), "utf8"));
    assert.equal(table?.rows.length, result.rows.length);
    assert.deepEqual(table?.rows[0]?.[4], {
      value: result.rows[0].accuracy,
      low: result.rows[0].low,
      high: result.rows[0].high,
      percent: true,
    });
    assert.ok(input.charts.some((c) => c.title.startsWith("demo-labels:")));
    assert.equal(input.runs.length, 0);
  });

  test("prompts longer than the model's context are recorded, left out of the accuracy and counted", async () => {
    const out = makeTempDir("experiment-demo-labels-too-long");
    const tooLong = new ScriptedLanguageModel({
      score: (prompt, continuation) => {
        if (shownLabels(prompt).length >= 4)
          throw new AdaptlmError("CONTEXT_TOO_LONG", "the prompt has 300 tokens; the model's context is 256");
        return shownLabels(prompt).filter((label) => label === continuation.trim()).length;
      },
    });
    const { result } = await runExperiment(demoLabels, {
      out,
      models: ["/models/scripted"],
      quick: true,
      seeds: 1,
      examples: 3,
      languageModel: () => tooLong,
    });
    for (const row of result.rows) {
      const fits = row.coordinates.condition === "none";
      assert.equal(row.total, fits ? 3 : 0);
      assert.equal(row.excluded, fits ? 0 : 3);
    }
    assert.equal(result.tables[0]?.columns.at(-1), "too long");
    // nothing scored: no accuracy in the table, no line in the plot (only "no demos")
    const gold = result.tables[0]?.rows.find((row) => row[2] === "gold");
    assert.deepEqual(gold?.slice(4), ["-", "-", "0/0", 1, 3]);
    assert.equal(result.chart.kind === "line" ? result.chart.series.length : -1, 1);
    const cell = result.cells.find((c) => c.coordinates.condition === "gold");
    const records = cellRecords(join(out, "demo-labels"), cell?.runDir as string);
    assert.ok(records.every((r) => (r as { tooLong?: boolean }).tooLong === true && r.correct === false));
  });
});
