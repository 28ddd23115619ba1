import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { DecodeStream } from "../../src/tokenizers/decode-stream.js";
import { tokenizerFromGguf } from "../../src/tokenizers/gguf-tokenizer.js";
import { readLlama2cTokenizerBin } from "../../src/tokenizers/llama2c-tokenizer.js";
import type { Tokenizer } from "../../src/tokenizers/tokenizer.js";
import { readVocabJsonAndMerges, readVocabTxt } from "../../src/tokenizers/vocab-files.js";
import { BERT_VOCAB, GPT2_ENCODER, GPT2_MERGES, STORIES, VOCAB_DIR } from "./vectors.js";

const TEXTS = [
  "Hello world, this is a test.",
  " leading space and 🦙 emoji 😶‍🌫️ and naïve café",
  "我想在apple工作 нещо на Български\n\nnew lines",
];

function streamed(tokenizer: Tokenizer, ids: number[]): { text: string; pieces: string[] } {
  const stream = new DecodeStream(tokenizer, { skipSpecialTokens: true });
  const pieces = ids.map((id) => stream.step(id));
  return { text: pieces.join(""), pieces };
}

test("streamed decoding equals decoding everything at once", () => {
  const tokenizers: [string, Tokenizer][] = [
    ["gpt2", readVocabJsonAndMerges(GPT2_ENCODER, GPT2_MERGES)],
    ["llama", tokenizerFromGguf(join(VOCAB_DIR, "ggml-vocab-llama-spm.gguf"))],
    ["llama2.c", readLlama2cTokenizerBin(join(STORIES, "tok512.bin"), 512)],
    ["bert", readVocabTxt(BERT_VOCAB)],
  ];
  for (const [name, tokenizer] of tokenizers) {
    for (const text of TEXTS) {
      const ids = tokenizer.encode(text).ids;
      const whole = tokenizer.decode(ids, { skipSpecialTokens: true });
      assert.equal(streamed(tokenizer, ids).text, whole, `${name}: ${JSON.stringify(text)}`);
    }
  }
});

test("bytes of one character are held back until the character is complete", () => {
  const llama = tokenizerFromGguf(join(VOCAB_DIR, "ggml-vocab-llama-spm.gguf"));
  const ids = llama.encode("a🦙", { addSpecialTokens: false }).ids; // ▁a, then four byte tokens
  assert.equal(ids.length, 5);
  assert.deepEqual(streamed(llama, ids).pieces, ["a", "", "", "", "🦙"]);
});
