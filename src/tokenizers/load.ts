// loadTokenizer: the tokenizer of a model folder (or of one tokenizer file), picking the richest format
// present: tokenizer.json > vocab.json + merges.txt > vocab.txt > tokenizer.bin; tokenizer_config.json and
// special_tokens_map.json name the special tokens when present. A GGUF file brings its own vocabulary.

import { existsSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { TokenizerError } from "./errors.js";
import { tokenizerFromGguf } from "./gguf-tokenizer.js";
import { readHfTokenizerConfig } from "./hf-config.js";
import { readLlama2cTokenizerBin } from "./llama2c-tokenizer.js";
import type { PretrainedTokenizer } from "./tokenizer.js";
import { readTokenizerJson } from "./tokenizer-json.js";
import { readVocabJsonAndMerges, readVocabTxt } from "./vocab-files.js";

export interface LoadTokenizerOptions {
  /** Vocabulary size of the model, to check a llama2.c tokenizer.bin against (run.c takes it from the model). */
  vocabSize?: number;
}

/** Loads a tokenizer from a model folder, a tokenizer file (tokenizer.json, vocab.txt, *.bin) or a .gguf file. */
export function loadTokenizer(path: string, options: LoadTokenizerOptions = {}): PretrainedTokenizer {
  if (!existsSync(path)) {
    throw new TokenizerError("TOKENIZER_NOT_FOUND", `no tokenizer at ${path}: the path does not exist`);
  }
  if (!statSync(path).isDirectory()) return loadTokenizerFile(path, options);
  const dir = path;
  const has = (name: string): boolean => existsSync(join(dir, name));
  const config = readHfTokenizerConfig(dir);
  if (has("tokenizer.json")) return readTokenizerJson(join(dir, "tokenizer.json"), config);
  if (has("vocab.json") && has("merges.txt")) {
    return readVocabJsonAndMerges(join(dir, "vocab.json"), join(dir, "merges.txt"), config);
  }
  if (has("vocab.txt")) return readVocabTxt(join(dir, "vocab.txt"), config);
  if (has("tokenizer.bin")) return readLlama2cTokenizerBin(join(dir, "tokenizer.bin"), options.vocabSize);
  throw new TokenizerError(
    "TOKENIZER_NOT_FOUND",
    `no tokenizer in ${dir}: looked for tokenizer.json, vocab.json + merges.txt, vocab.txt and tokenizer.bin` +
      (has("tokenizer.model")
        ? " (tokenizer.model, SentencePiece's protobuf, is not read: add tokenizer.json)"
        : ""),
  );
}

function loadTokenizerFile(path: string, options: LoadTokenizerOptions): PretrainedTokenizer {
  const name = basename(path);
  if (name.endsWith(".gguf")) return tokenizerFromGguf(path);
  if (name.endsWith(".json") && name !== "vocab.json") return readTokenizerJson(path);
  if (name.endsWith(".txt")) return readVocabTxt(path);
  if (name.endsWith(".bin")) return readLlama2cTokenizerBin(path, options.vocabSize);
  throw new TokenizerError(
    "TOKENIZER_NOT_FOUND",
    `cannot tell the tokenizer format of ${path}: expected a folder, tokenizer.json, vocab.txt, a llama2.c ` +
      "tokenizer .bin or a .gguf file",
  );
}
