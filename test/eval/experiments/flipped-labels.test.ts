// flipped-labels: at p% flipped exactly round(k p / 100) demonstration labels differ from gold (all at 100%),
// unrelated labels show foo/bar, the table equals a recount, a model list gives one curve per model (plus
// its unrelated-labels baseline), and a model that answers from the input scores 100% whatever the labels.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { ClassificationExampleRecord } from "../../../src/eval/experiments/classification-cell.js";
import { classificationSplit } from "../../../src/eval/experiments/classification-data.js";
import { flippedLabels } from "../../../src/eval/experiments/flipped-labels.js";
import { runExperiment } from "../../../src/eval/experiments/runner.js";
import { makeTempDir } from "../../io/temp-dir.js";
import { countMarks } from "../report/svg-marks.js";
import {
  cellRecords,
  majorityLabelModel,
  oracleModel,
  recountRows,
  shownLabels,
} from "./experiment-helpers.js";

const dir = makeTempDir("experiment-flipped");

describe("flipped-labels", () => {
  const gold = new Map<string, string>();
  for (const task of ["sentiment", "topic"])
    for (const q of classificationSplit(task, { examples: 6 }).queries)
      gold.set(q.fields.input as string, q.label);
  const models = { "/m/small": majorityLabelModel(), "/m/oracle": oracleModel((input) => gold.get(input)) };

  test("flips the stated share of labels, unrelated shows foo/bar, table = recount, one curve per model", async () => {
    const { result } = await runExperiment(flippedLabels, {
      out: dir,
      models: Object.keys(models),
      quick: true,
      examples: 6,
      languageModel: (name) => models[name as keyof typeof models],
    });
    const root = join(dir, "flipped-labels");
    const recount = recountRows(root, result);
    for (const [i, row] of result.rows.entries())
      assert.deepEqual([row.correct, row.total], [recount[i]?.correct, recount[i]?.total]);
    for (const cell of result.cells) {
      const records = cellRecords(root, cell.runDir) as ClassificationExampleRecord[];
      for (const record of records) {
        const wrong = record.demonstrations.filter((d) => d.shown !== d.gold).length;
        if (cell.coordinates.condition === "unrelated") {
          assert.equal(wrong, 0);
          assert.ok(
            shownLabels(record.prompts[0] as string).every((label) => label === "foo" || label === "bar"),
          );
          assert.match(record.prompts[0] as string, /^Possible labels: foo, bar\./);
        } else {
          assert.equal(wrong, Math.round((4 * Number(cell.coordinates.flipped)) / 100));
        }
      }
    }
    for (const row of result.rows)
      if (row.coordinates.model === "oracle" && row.coordinates.condition === "flipped")
        assert.equal(row.accuracy, 1);
    const svg = readFileSync(join(root, "plot.svg"), "utf8");
    // per model: the flipped curve and the flat unrelated-labels line, 3 points each
    assert.equal(countMarks(svg, "line", "line", "path"), 4);
    assert.equal(countMarks(svg, "symbol", "point", "path"), 12);
  });
});
