// `adaptlm compare-methods` on a tiny random BERT and a small balanced SpamAssassin subsample (the built-in
// `spam` task, written into a temporary task cache): one table row per method with sane numbers, results
// stored per method, and `adaptlm eval` on a stored result reproducing the table's test accuracy.

import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runMethodComparison } from "../../src/train/compare-run.js";
import { readRecordsAsync } from "../../src/train/dataset.js";
import { evaluateClassifier, loadClassifier } from "../../src/train/predict.js";
import { makeTempDir } from "../io/temp-dir.js";
import { writeTinyBertFolder } from "../models/model-fixtures.js";
import { adaptlm } from "./run-cli.js";

const _cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

describe("adaptlm compare-methods", () => {
  const model = writeTinyBertFolder({ mlmHead: false });
  const cache = makeTempDir("compare-cache");
  const out = join(makeTempDir("compare"), "out");

  test("spam subsample, BitFit and LoRA: table rows, stored results, eval agrees", async () => {
    const common = ["--task", "spam", "--per-class", "20", "--max-length", "32"];
    const run = await adaptlm(
      [
        "compare-methods",
        model,
        ...common,
        "--methods",
        "bitfit,lora",
        "--max-steps",
        "4",
        "--batch-size",
        "8",
        "--out",
        out,
      ],
      { env: { ADAPTLM_CACHE: cache } },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^28 training and 8 test examples, labels ham, spam$/m);
    assert.match(
      run.stdout,
      /method\s+accuracy \(test\)\s+macro-F1\s+trainable params\s+% of base\s+stored\s+train time/,
    );
    const rows = new Map<string, string[]>();
    for (const line of run.stdout.split("\n")) {
      const cells = line.trim().split(/\s{2,}/);
      if (cells[0] === "bitfit" || cells[0] === "lora") rows.set(cells[0], cells);
    }
    assert.deepEqual([...rows.keys()], ["bitfit", "lora"]);
    for (const [method, cells] of rows) {
      const accuracy = Number(cells[1]);
      // 8 test mails: accuracy is a multiple of 1/8.
      assert.ok(
        accuracy >= 0 && accuracy <= 1 && Number.isInteger(Math.round(accuracy * 8 * 1e4) / 1e4),
        cells[1],
      );
      const trainable = Number(cells[3].replace(/,/g, ""));
      const percent = Number(cells[4].replace("%", ""));
      assert.ok(trainable > 0 && percent > 0 && percent < 100, cells.join(" | "));
      assert.match(cells[5], /^\d+(\.\d)? (B|KiB|MiB)$/);
      assert.match(cells[6], /^\d+\.\d s$/);
      const dir = join(out, method);
      assert.ok(existsSync(join(dir, "adapter_model.safetensors")));
      assert.ok(existsSync(join(dir, "labels.json")));
    }

    // The stored LoRA result, scored again by adaptlm eval on the same test split: the same accuracy.
    const evalRun = await adaptlm(["eval", model, "--adapter", join(out, "lora"), ...common, "--json"], {
      env: {
        ADAPTLM_CACHE: cache,
      },
    });
    assert.equal(evalRun.code, 0, evalRun.stderr);
    const report = JSON.parse(evalRun.stdout) as { accuracy: number; examples: number };
    assert.equal(report.examples, 8);
    assert.equal(report.accuracy.toFixed(4), rows.get("lora")?.[1]);
  });

  test("library: parameter counts and stored bytes", async () => {
    const taskDir = join(cache, "tasks", "spam-assassin", "seed0-per20-val0.1-test0.2-chars2000");
    assert.ok(existsSync(join(taskDir, "task.json")), "the CLI test wrote the cached task");
    const dir = join(makeTempDir("compare-lib"), "out");
    const result = await runMethodComparison({
      model,
      taskDir,
      methods: ["full", "bitfit", "prompt"],
      maxSteps: 2,
      batchSize: 8,
      outputDir: dir,
    });
    const [full, bitfit, prompt] = result.rows;
    // The tiny BERT has 64 positions: inputs are cut to 54 tokens so prompt tuning's 10 virtual tokens fit,
    // and eval's default length does the same for the stored prompt adapter (the same test accuracy).
    const reloaded = loadClassifier({ model, adapter: join(dir, "prompt") });
    assert.equal(reloaded.maxLength, 54);
    const { report } = evaluateClassifier(reloaded, await readRecordsAsync(join(taskDir, "test.jsonl")));
    assert.equal(report.accuracy, prompt.metrics.accuracy);
    assert.equal(full.trainableParameters, full.baseParameters);
    assert.equal(full.percentOfBase, 100);
    assert.equal(full.storedBytes, statSync(join(dir, "full", "model.safetensors")).size);
    // BitFit trains the biases and the 2-label head only.
    assert.ok(
      bitfit.trainableParameters < full.trainableParameters / 100,
      String(bitfit.trainableParameters),
    );
    assert.ok(bitfit.storedBytes < full.storedBytes / 100);
    for (const row of result.rows) assert.ok(row.metrics.accuracy >= 0 && row.metrics.accuracy <= 1);
    await assert.rejects(
      runMethodComparison({ model, taskDir, methods: ["magic"], outputDir: dir }),
      /unknown method "magic"/,
    );
  });
});
