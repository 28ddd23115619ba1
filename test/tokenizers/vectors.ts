// llama.cpp's test vectors, read as tests/test-tokenizer-0.cpp's read_tests does.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const VOCAB_DIR = "../shared/tokenizers/llama.cpp-vocab-gguf";
export const BERT_VOCAB = "../shared/tokenizers/bert-base-uncased/vocab.txt";
export const GPT2_ENCODER = "../shared/tokenizers/gpt2/encoder.json";
export const GPT2_MERGES = "../shared/tokenizers/gpt2/vocab.bpe";
export const TINY_GPT2 = "../shared/models/tiny-gpt2-hf-random";
export const STORIES = "../shared/models/stories260K";

export interface Vector {
  text: string;
  ids: number[];
}

/** `<name>.gguf.inp`: texts separated by "\n__ggml_vocab_test__\n"; `<name>.gguf.out`: ids per line. */
export function readVectors(name: string): Vector[] {
  const raw = readFileSync(join(VOCAB_DIR, `${name}.gguf.inp`), "utf8");
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
  const lines = readFileSync(join(VOCAB_DIR, `${name}.gguf.out`), "utf8").split("\n");
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
