// generation_config.json: transformers' defaults for what the file leaves out, do_sample false = greedy, eos as
// one id or a list, user flags over the file over the command's fallback, typed errors for broken files, and
// no file = null.

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  parseGenerationConfig,
  readGenerationConfig,
  samplingDefaults,
} from "../../src/io/generation-config.js";
import { ConfigError } from "../../src/io/hf-config.js";
import { makeTempDir } from "./temp-dir.js";

const fallback = { maxTokens: 64, temperature: 0, topK: 0, topP: 1 };

test("parses the fields adaptlm uses, eos as a list", () => {
  // Llama-3-Instruct's file, trimmed
  const llama3 = parseGenerationConfig({
    bos_token_id: 128000,
    do_sample: true,
    eos_token_id: [128001, 128009],
    temperature: 0.6,
    top_p: 0.9,
    transformers_version: "4.40.0",
  });
  assert.deepEqual(llama3, {
    eosTokenIds: [128001, 128009],
    bosTokenId: 128000,
    doSample: true,
    temperature: 0.6,
    topK: null,
    topP: 0.9,
    maxNewTokens: null,
  });
  // transformers fills top_k 50 when sampling and the file does not say
  assert.deepEqual(samplingDefaults({}, llama3, fallback), {
    temperature: 0.6,
    topK: 50,
    topP: 0.9,
    maxTokens: 64,
  });
  // flags win
  assert.deepEqual(samplingDefaults({ temperature: 0, topK: 3 }, llama3, fallback), {
    temperature: 0,
    topK: 3,
    topP: 0.9,
    maxTokens: 64,
  });
  assert.deepEqual(parseGenerationConfig({ eos_token_id: 50256 }).eosTokenIds, [50256]);
});

test("do_sample false (the default) is greedy whatever temperature says; max_new_tokens is the budget", () => {
  const greedy = parseGenerationConfig({ temperature: 0.7, top_k: 20, max_new_tokens: 12 });
  assert.equal(greedy.doSample, false);
  assert.deepEqual(samplingDefaults({}, greedy, { ...fallback, temperature: 1, topK: 5 }), {
    temperature: 0,
    topK: 5,
    topP: 1,
    maxTokens: 12,
  });
  assert.deepEqual(samplingDefaults({}, null, fallback), fallback);
});

test("malformed fields and files are typed errors; a folder without the file gives null", () => {
  for (const bad of [
    { top_p: 1.5 },
    { temperature: -1 },
    { do_sample: "yes" },
    { eos_token_id: [1, -2] },
    [],
  ]) {
    assert.throws(() => parseGenerationConfig(bad), ConfigError, JSON.stringify(bad));
  }
  const dir = makeTempDir("generation-config");
  assert.equal(readGenerationConfig(dir), null);
  writeFileSync(join(dir, "generation_config.json"), "{ not json");
  assert.throws(
    () => readGenerationConfig(dir),
    (error: unknown) => error instanceof ConfigError && /generation_config\.json/.test(error.message),
  );
  writeFileSync(join(dir, "generation_config.json"), JSON.stringify({ do_sample: true, top_k: 7 }));
  assert.equal(readGenerationConfig(dir)?.topK, 7);
});
