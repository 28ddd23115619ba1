// llama.cpp's own tokenizer test vectors (tests/test-tokenizer-0.cpp): each `<vocab>.gguf.inp` holds texts
// separated by "\n__ggml_vocab_test__\n", each line of `<vocab>.gguf.out` the expected ids of one text.
// llama.cpp tokenizes them with add_special = false and parse_special = false: no BOS/CLS/SEP is added,
// control tokens in the text are not matched, and SentencePiece still adds its dummy-prefix space.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { tokenizerFromGguf } from "../../src/tokenizers/gguf-tokenizer.js";

const DIR = "../shared/tokenizers/llama.cpp-vocab-gguf";

function readVectors(name: string): { text: string; ids: number[] }[] {
  const raw = readFileSync(join(DIR, `${name}.gguf.inp`), "utf8");
  const separator = "\n__ggml_vocab_test__\n";
  // As read_tests: split on the separator; text after the last separator ends the file.
  const texts: string[] = [];
  let position = 0;
  while (position < raw.length) {
    const next = raw.indexOf(separator, position);
    if (next < 0) {
      texts.push(raw.slice(position));
      break;
    }
    texts.push(raw.slice(position, next));
    position = next + separator.length;
  }
  const lines = readFileSync(join(DIR, `${name}.gguf.out`), "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  assert.equal(texts.length, lines.length, `${name}: .inp and .out hold the same number of cases`);
  return texts.map((text, i) => ({
    text,
    ids: lines[i]
      .trim()
      .split(" ")
      .filter((s) => s !== "")
      .map(Number),
  }));
}

for (const name of ["ggml-vocab-gpt-2", "ggml-vocab-bert-bge", "ggml-vocab-llama-spm"]) {
  describe(`llama.cpp vectors: ${name}`, () => {
    const tokenizer = tokenizerFromGguf(join(DIR, `${name}.gguf`));
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
