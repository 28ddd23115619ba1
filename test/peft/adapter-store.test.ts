// The adapter store's summaries and the `adaptlm adapters` table on the golden adapter folders; typed
// errors for folders that are not adapters.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  checkpointParameterCount,
  loadAdapter,
  resolveBaseModelDir,
  summarizeAdapter,
} from "../../src/peft/adapter-store.js";
import { PeftError } from "../../src/peft/method.js";
import { sharedPath } from "../io/shared-paths.js";
import { makeTempDir } from "../io/temp-dir.js";

const golden = sharedPath("golden");
const loraDir = join(golden, "cases", "bert_seqcls_lora", "adapter");
const caseSpec = (name: string) => JSON.parse(readFileSync(join(golden, "cases", name, "case.json"), "utf8"));

test("summary of a golden LoRA folder; the base model is found from base_model_name_or_path", () => {
  const s = summarizeAdapter(loraDir);
  assert.equal(s.peftType, "LORA");
  assert.equal(s.taskType, "SEQ_CLS");
  assert.equal(s.parameters, caseSpec("bert_seqcls_lora").num_trainable_elements);
  const base = resolveBaseModelDir(loraDir, s.baseModel);
  assert.equal(base, join(golden, "models", "bert"));
  assert.ok(checkpointParameterCount(base as string) > s.parameters);
});

test("folders that are not adapters give typed, actionable errors", () => {
  const dir = makeTempDir("not-adapter");
  assert.throws(
    () => loadAdapter(dir),
    (e: unknown) => e instanceof PeftError && /adapter_config\.json/.test(e.message),
  );
  writeFileSync(join(dir, "adapter_config.json"), JSON.stringify({ peft_type: "IA3" }));
  assert.throws(
    () => loadAdapter(dir),
    (e: unknown) => e instanceof PeftError && /IA3/.test(e.message),
  );
});

test("adaptlm adapters prints one row per folder with method, parameters and share of the base", () => {
  const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
  const prefixDir = join(golden, "cases", "gpt2_clm_prefix", "adapter");
  const out = execFileSync(process.execPath, [main, "adapters", "--json", loraDir, prefixDir], {
    encoding: "utf8",
    env: { ...process.env, ADAPTLM_BACKEND: "reference" },
  });
  const rows = out
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    rows.map((r) => r.peftType),
    ["LORA", "PREFIX_TUNING"],
  );
  assert.equal(rows[1].parameters, caseSpec("gpt2_clm_prefix").num_trainable_elements);
  assert.ok(rows.every((r) => r.percentOfBase > 0 && r.percentOfBase < 100 && r.bytes > 0));
});
