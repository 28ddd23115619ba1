// prompt-search at a tiny size: each method's prompt is the instruction of its evaluation prompts, the
// hand-written one costs no search calls while APE and RLPrompt report theirs, and a resumed run reuses the
// recorded search instead of searching again.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { classificationSplit } from "../../../src/eval/experiments/classification-data.js";
import { HAND_WRITTEN_INSTRUCTION, promptSearch } from "../../../src/eval/experiments/prompt-search.js";
import { runExperiment } from "../../../src/eval/experiments/runner.js";
import { makeTempDir } from "../../io/temp-dir.js";
import { ScriptedLanguageModel } from "../../lm/scripted-language-model.js";
import { cellRecords } from "./experiment-helpers.js";

describe("prompt-search", () => {
  test("hand-written vs APE vs RLPrompt: prompts used, search cost, resume without searching", async () => {
    const gold = new Map(
      [
        ...classificationSplit("sentiment", { examples: 6 }).queries,
        ...classificationSplit("sentiment", { examples: 6 }).pool,
      ].map((e) => [e.fields.input as string, e.label]),
    );
    const lm = new ScriptedLanguageModel({
      generate: () => "Name the feeling of the text.",
      score: (prompt, continuation) => {
        const input = prompt.slice(prompt.lastIndexOf("Input: ") + 7).split("\n")[0] as string;
        return gold.get(input) === continuation.trim() ? -0.5 : -3;
      },
    });
    const out = makeTempDir("experiment-prompt-search");
    const options = { out, models: ["/m/scripted"], quick: true, examples: 6, languageModel: () => lm };
    const { result } = await runExperiment(promptSearch, options);
    const extra = (method: string) => result.cells.find((c) => c.coordinates.method === method)?.extra ?? {};
    assert.equal(extra("hand-written").requests, 0);
    assert.equal(extra("hand-written").instruction, HAND_WRITTEN_INSTRUCTION);
    assert.equal(extra("ape").instruction, "Name the feeling of the text.");
    assert.ok(Number(extra("ape").requests) > 0 && Number(extra("rl-prompt").requests) > 0);
    for (const cell of result.cells) {
      const records = cellRecords(join(out, "prompt-search"), join(cell.runDir, "evaluation"));
      assert.equal(records.length, 6);
      for (const record of records)
        assert.ok((record.prompts[0] as string).startsWith(`${String(cell.extra?.instruction)}\n\nInput: `));
    }
    // the oracle scores gold highest whatever the instruction
    assert.ok(result.rows.every((row) => row.accuracy === 1));
    assert.equal(result.tables[1]?.rows.length, 3);
    // forget that the APE cell finished: the re-run reads search.json and the recorded examples, calls nothing
    const resultPath = join(out, "prompt-search", "result.json");
    const saved = JSON.parse(readFileSync(resultPath, "utf8"));
    saved.cells = saved.cells.filter(
      (c: { coordinates: { method: string } }) => c.coordinates.method !== "ape",
    );
    writeFileSync(resultPath, JSON.stringify(saved));
    const calls = lm.calls.length;
    const again = await runExperiment(promptSearch, options);
    assert.equal(again.ran, 1);
    assert.equal(lm.calls.length, calls);
    assert.deepEqual(again.result.rows, result.rows);
  });
});
