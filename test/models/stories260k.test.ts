// stories260K (a real, trained llama2.c model): greedy generation of 200 tokens reproduces what upstream
// run.c prints for `run stories260K.bin -z tok512.bin -t 0 -n 200` byte for byte: start from BOS (id 1),
// 200 forward passes, stop early on BOS, decode each token after the previous one (the leading space of the
// piece after BOS is dropped; <0xXX> pieces are raw bytes), no trailing newline.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { generate } from "../../src/models/generate.js";
import { loadModel } from "../../src/models/load-model.js";
import { DecodeStream } from "../../src/tokenizers/decode-stream.js";
import { stories260K } from "./model-fixtures.js";

test("stories260K greedy 200 tokens equals upstream llama2.c byte for byte", async () => {
  const loaded = await loadModel(stories260K.checkpoint, { tokenizer: stories260K.tokenizer });
  assert.equal(loaded.kind, "causal-lm");
  const tokenizer = loaded.tokenizer;
  assert.ok(tokenizer);
  const prompt = tokenizer.encode("").ids;
  assert.deepEqual(prompt, [1], "run.c encodes the empty prompt as BOS alone");
  const stream = new DecodeStream(tokenizer, { skipSpecialTokens: true });
  stream.step(1);
  let streamed = "";
  const result = generate(loaded.model, prompt, {
    maxNewTokens: 200,
    eosTokenIds: [1],
    onToken: (token) => {
      streamed += stream.step(token);
    },
  });
  const text = tokenizer.decode([1, ...result.tokens], { skipSpecialTokens: true });
  const expected = readFileSync(stories260K.expected);
  assert.equal(
    Buffer.from(text, "utf8").compare(expected),
    0,
    `got:\n${text}\nexpected:\n${expected.toString("utf8")}`,
  );
  assert.equal(streamed, text, "streamed pieces concatenate to the same text");
});
