// End to end: `adaptlm instruction-tune` run as a user runs it (spawning the compiled CLI) on stories260K with
// LoRA and a few steps: the table has one row per cluster with the numbers of results.json, the adapter is
// a PEFT folder, and bad cluster names are usage errors.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { InstructionTuneResult } from "../../src/train/instruction-tune.js";
import { adaptlm } from "../cli/run-cli.js";
import { makeTempDir } from "../io/temp-dir.js";
import { stories260K } from "../models/model-fixtures.js";

const _cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

test("instruction-tune --method lora prints one row per cluster and writes results.json and the adapter", async () => {
  const out = join(makeTempDir("instruction-cli"), "run");
  const run = await adaptlm([
    "instruction-tune",
    stories260K.checkpoint,
    "--tokenizer",
    stories260K.tokenizer,
    "--train-clusters",
    "topic,arithmetic",
    "--heldout-clusters",
    "sentiment",
    "--method",
    "lora",
    "--steps",
    "4",
    "--batch-size",
    "4",
    "--examples-per-task",
    "8",
    "--eval-examples",
    "4",
    "--eval-templates",
    "2",
    "--out",
    out,
  ]);
  assert.equal(run.code, 0, run.stderr);
  const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as InstructionTuneResult;
  assert.equal(results.method, "lora");
  assert.ok(existsSync(join(out, "adapter", "adapter_config.json")));
  assert.ok(existsSync(join(out, "adapter", "adapter_model.safetensors")));
  const lines = run.stdout.split("\n");
  const header = lines.findIndex((l) => l.startsWith("cluster"));
  assert.ok(header >= 0, run.stdout);
  const rows = lines.slice(header + 1, header + 4).map((l) => l.split(/\s{2,}/));
  assert.deepEqual(
    rows.map((r) => [r[0], r[1]]),
    [
      ["topic", "no"],
      ["arithmetic", "no"],
      ["sentiment", "yes"],
    ],
  );
  results.clusters.forEach((c, i) => {
    assert.equal(rows[i][2], String(c.examples));
    assert.ok(rows[i][3].startsWith((100 * (c.untuned?.accuracy ?? Number.NaN)).toFixed(1)), rows[i][3]);
    assert.ok(rows[i][4].startsWith((100 * c.tuned.accuracy).toFixed(1)), rows[i][4]);
  });

  const bad = await adaptlm([
    "instruction-tune",
    stories260K.checkpoint,
    "--train-clusters",
    "poems",
    "--out",
    out,
  ]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /unknown task cluster "poems"/);
});
