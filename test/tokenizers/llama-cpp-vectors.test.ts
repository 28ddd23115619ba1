// llama.cpp's own tokenizer test vectors (tests/test-tokenizer-0.cpp): each `<vocab>.gguf.inp` holds texts
// separated by "\n__ggml_vocab_test__\n", each line of `<vocab>.gguf.out` the expected ids of one text.
// llama.cpp tokenizes them with add_special = false and parse_special = false: no BOS/CLS/SEP is added,
// control tokens in the text are not matched, and SentencePiece still adds its dummy-prefix space.

import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { tokenizerFromGguf } from "../../src/tokenizers/gguf-tokenizer.js";
import { readVocabJsonAndMerges, readVocabTxt } from "../../src/tokenizers/vocab-files.js";
import { BERT_VOCAB, GPT2_ENCODER, GPT2_MERGES, readVectors, VOCAB_DIR } from "./vectors.js";

for (const name of ["ggml-vocab-gpt-2", "ggml-vocab-bert-bge", "ggml-vocab-llama-spm"]) {
  describe(`llama.cpp vectors: ${name}`, () => {
    const tokenizer = tokenizerFromGguf(join(VOCAB_DIR, `${name}.gguf`));
    const vectors = readVectors(name);

    test("the vector files hold 46 cases", () => {
      assert.equal(vectors.length, 46);
    });

    vectors.forEach(({ text, ids }, i) => {
      test(`case ${i}: ${JSON.stringify(text).slice(0, 60)}`, () => {
        const encoding = tokenizer.encode(text, { addSpecialTokens: false, parseSpecialTokens: false });
        assert.deepEqual(encoding.ids, ids);
        // Offsets always point into the text and never run backwards.
        for (const [start, end] of encoding.offsets) {
          assert.ok(
            0 <= start && start <= end && end <= text.length,
            `offset [${start}, ${end}] in ${text.length}`,
          );
        }
      });
    });
  });
}

// The bge vocabulary is bert-base-uncased's (llama.cpp writes word starts as "▁x" instead of continuations as
// "##x"), and the GPT-2 GGUF holds GPT-2's encoder.json and vocab.bpe: the Hugging Face file formats must
// give the same ids on the same vectors.
describe("llama.cpp vectors through the Hugging Face vocabulary files", () => {
  const bert = readVocabTxt(BERT_VOCAB);
  readVectors("ggml-vocab-bert-bge").forEach(({ text, ids }, i) => {
    test(`bert-base-uncased vocab.txt, case ${i}`, () => {
      assert.deepEqual(bert.encode(text, { addSpecialTokens: false, parseSpecialTokens: false }).ids, ids);
    });
  });
  const gpt2 = readVocabJsonAndMerges(GPT2_ENCODER, GPT2_MERGES);
  readVectors("ggml-vocab-gpt-2").forEach(({ text, ids }, i) => {
    test(`GPT-2 encoder.json + vocab.bpe, case ${i}`, () => {
      assert.deepEqual(gpt2.encode(text, { addSpecialTokens: false, parseSpecialTokens: false }).ids, ids);
    });
  });
});

test("the bge GGUF and bert-base-uncased vocab.txt agree with special tokens and pairs too", () => {
  const fromGguf = tokenizerFromGguf(join(VOCAB_DIR, "ggml-vocab-bert-bge.gguf"));
  const fromTxt = readVocabTxt(BERT_VOCAB);
  for (const [a, b] of [
    ["Hello, world! unaffable [MASK] x", "Second one."],
    ["Führer 🦙 我想", "Cửa Việt"],
  ]) {
    const x = fromGguf.encode(a, { pair: b });
    const y = fromTxt.encode(a, { pair: b });
    assert.deepEqual(x.ids, y.ids);
    assert.deepEqual(x.typeIds, y.typeIds);
    assert.deepEqual(x.offsets, y.offsets);
    assert.equal(
      fromGguf.decode(x.ids, { skipSpecialTokens: true }),
      fromTxt.decode(y.ids, { skipSpecialTokens: true }),
    );
  }
});
