// `adaptlm generate` on a model folder with generation_config.json: the file's sampling settings act exactly as
// the same flags given by hand, its eos_token_id list ends generation, flags override it, and a broken file is
// a clear error.

import assert from "node:assert/strict";
import { test } from "node:test";
import { tinyGpt2Folder, tinyGpt2WithGenerationConfig } from "../models/model-fixtures.js";
import { adaptlm } from "./run-cli.js";

interface Generated {
  samples: { text: string; finishReason: string; tokens: { id: number }[] }[];
}

const prompt = ["--prompt", " lowest newer wider", "--json"];

async function generate(args: string[]): Promise<Generated> {
  const run = await adaptlm(["generate", ...args]);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as Generated;
}

test("the file's sampling defaults equal the same flags; flags override the file", async () => {
  const folder = tinyGpt2WithGenerationConfig({
    do_sample: true,
    temperature: 1.3,
    top_p: 0.8,
    max_new_tokens: 7,
  });
  const fromFile = await generate([folder, ...prompt, "--seed", "4", "--n", "3"]);
  const byHand = await generate([
    tinyGpt2Folder,
    ...prompt,
    ...[
      "--seed",
      "4",
      "--n",
      "3",
      "--temperature",
      "1.3",
      "--top-k",
      "50",
      "--top-p",
      "0.8",
      "--max-tokens",
      "7",
    ],
  ]);
  assert.deepEqual(fromFile.samples, byHand.samples);
  assert.ok(new Set(fromFile.samples.map((s) => s.text)).size > 1, "the defaults do sample");
  const greedyFlag = await generate([folder, ...prompt, "--temperature", "0", "--max-tokens", "7"]);
  const greedyPlain = await generate([tinyGpt2Folder, ...prompt, "--max-tokens", "7"]);
  assert.deepEqual(greedyFlag.samples, greedyPlain.samples);
});

test("eos_token_id from the file ends generation", async () => {
  const plain = await generate([tinyGpt2Folder, ...prompt, "--max-tokens", "6"]);
  const tokens = plain.samples[0].tokens.map((t) => t.id);
  assert.equal(plain.samples[0].finishReason, "length", "the plain run does not stop early");
  const stopAt = tokens[2];
  const first = tokens.indexOf(stopAt);
  const ended = await generate([
    tinyGpt2WithGenerationConfig({ eos_token_id: [99999, stopAt] }),
    ...prompt,
    "--max-tokens",
    "6",
  ]);
  assert.equal(ended.samples[0].finishReason, "eos");
  assert.deepEqual(
    ended.samples[0].tokens.map((t) => t.id),
    tokens.slice(0, first + 1),
  );
});

test("a malformed generation_config.json is a clear error", async () => {
  const run = await adaptlm(["generate", tinyGpt2WithGenerationConfig("{ oops"), ...prompt]);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /generation_config\.json/);
});
