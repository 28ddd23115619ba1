// The README's main job on the shipped lab models (quick mode): both paths produce rows on the same test
// examples, the numbers are consistent with the recorded per-example outcomes, and report.html is written.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { labModelPath, runDemo } from "../../src/eval/demo.js";
import { makeTempDir } from "../io/temp-dir.js";

test("adaptlm demo --quick: fine-tuning and prompting rows on the lab models, report written", async () => {
  assert.ok(existsSync(join(labModelPath("lab-encoder"), "model.safetensors")), "lab-encoder is shipped");
  assert.ok(existsSync(join(labModelPath("lab-decoder-s"), "model.safetensors")), "lab-decoder-s is shipped");
  const dir = makeTempDir("demo");
  const events: string[] = [];
  const result = await runDemo({
    outputDir: dir,
    quick: true,
    onEvent: (e) => events.push(e.type === "compare" ? e.event.type : e.type),
  });
  const rows = result.report.rows;
  assert.deepEqual(
    rows.map((r) => r.name),
    ["full", "lora", "zero-shot", "instructions", "few-shot:4", "few-shot:8"],
  );
  const testLines = readFileSync(join(result.taskDir, "test.jsonl"), "utf8").trim().split("\n");
  for (const row of rows) {
    assert.ok(row.metric, `${row.name} finished`);
    assert.equal(row.metric.total, testLines.length);
    assert.ok(row.metric.low <= row.metric.value && row.metric.value <= row.metric.high);
  }
  const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
  assert.ok((byName.lora.trainableParameters ?? 0) < (byName.full.trainableParameters ?? 0));
  assert.equal(byName["few-shot:4"].trainableParameters, 0);
  assert.ok((byName["few-shot:8"].tokensPerExample ?? 0) > (byName["few-shot:4"].tokensPerExample ?? 0));
  const html = readFileSync(result.reportPath, "utf8");
  assert.match(html, /<svg/);
  for (const row of rows) assert.ok(html.includes(row.name), `report names ${row.name}`);
  assert.ok(events.includes("task") && events.includes("report") && events.includes("row-done"));
});
