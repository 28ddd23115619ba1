// adapters at a tiny size on a tiny BERT folder: one cell per method through the compare-methods machinery,
// the table's accuracy equals the method's recorded test accuracy, the cost table lists trainable % and
// storage (an adapter stores less than the full model), and the plot has one point per method.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { adapters } from "../../../src/eval/experiments/adapters.js";
import { runExperiment } from "../../../src/eval/experiments/runner.js";
import { makeTempDir } from "../../io/temp-dir.js";
import { writeTinyBertFolder } from "../../models/model-fixtures.js";
import { countMarks } from "../report/svg-marks.js";

describe("adapters", () => {
  test("full vs lora: accuracy, trainable share and storage per method", async () => {
    const out = makeTempDir("experiment-adapters");
    const model = writeTinyBertFolder({ mlmHead: false });
    const { result } = await runExperiment(adapters, {
      out,
      models: [model],
      quick: true,
      examples: 8,
      languageModel: () => {
        throw new Error("adapters trains an encoder: no language model is used");
      },
    });
    assert.deepEqual(
      result.rows.map((row) => row.coordinates.method),
      ["full", "lora"],
    );
    for (const row of result.rows) {
      const cell = result.cells.find((c) => c.coordinates.method === row.coordinates.method);
      const metrics = cell?.extra?.metrics as Record<string, number>;
      assert.equal(row.total, 8);
      assert.equal(row.correct, Math.round((metrics.accuracy as number) * 8));
    }
    const extra = (method: string) => result.cells.find((c) => c.coordinates.method === method)?.extra ?? {};
    assert.ok(Number(extra("lora").storedBytes) < Number(extra("full").storedBytes));
    assert.ok(Number(extra("lora").percentOfBase) < Number(extra("full").percentOfBase));
    assert.equal(result.tables[1]?.columns[3], "trainable %");
    const svg = readFileSync(join(out, "adapters", "plot.svg"), "utf8");
    assert.equal(countMarks(svg, "symbol", "point", "path"), 2);
  });
});
