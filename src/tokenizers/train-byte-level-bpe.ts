// Trains a GPT-2 style byte-level BPE tokenizer, as Hugging Face's ByteLevelBPETokenizer.train does (a
// ByteLevel pre-tokenizer + BpeTrainer with initial_alphabet=ByteLevel.alphabet()):
//
// 1. split each text with GPT-2's regex and count the distinct words;
// 2. write each word's UTF-8 bytes as bytes_to_unicode characters (" " -> "Ġ"), so the alphabet is the 256
//    byte characters and any text can be encoded without an unknown token;
// 3. learn merges over the word counts (bpe-trainer.ts).
//
// The result is a tokenizer.json object: special tokens with ids 0.., then the 256 byte characters in
// code-point order, then the merged tokens; ByteLevel pre-tokenizer (no prefix space), post-processor and
// decoder, as GPT-2's own tokenizer.json. Special tokens written in the training text are not treated
// specially (the trainer pre-tokenizes them like any text).

import { learnBpeMerges } from "./bpe-trainer.js";
import { PRETOKENIZE_PATTERNS } from "./byte-level-bpe.js";
import { specialAddedToken, type TokenizerJsonObject, vocabObject } from "./tokenizer-files.js";
import { BYTE_TO_CHAR, utf8Encode } from "./unicode.js";

export interface ByteLevelBpeTrainingOptions {
  /** Vocabulary size including the special tokens and the 256 byte tokens. */
  vocabSize: number;
  /** A pair must occur at least this often to be merged (default 2, as ByteLevelBPETokenizer.train). */
  minFrequency?: number;
  /** Special tokens, given ids 0.. (default ["<|endoftext|>"]). */
  specialTokens?: string[];
  onProgress?: (progress: { merges: number; target: number }) => void;
}

/** Distinct GPT-2 pre-tokenized words of `texts` in byte-level spelling ("Ġthe"), with their counts. */
export function byteLevelWordCounts(texts: Iterable<string>): Map<string, number> {
  const pattern = new RegExp(PRETOKENIZE_PATTERNS.gpt2, "gu");
  const raw = new Map<string, number>();
  const count = (word: string): void => {
    raw.set(word, (raw.get(word) ?? 0) + 1);
  };
  for (const text of texts) {
    let covered = 0;
    for (const match of text.matchAll(pattern)) {
      // GPT-2's regex matches every character; text between matches would be a word of its own.
      if (match.index > covered) count(text.slice(covered, match.index));
      if (match[0] !== "") count(match[0]);
      covered = match.index + match[0].length;
    }
    if (covered < text.length) count(text.slice(covered));
  }
  const words = new Map<string, number>();
  for (const [word, n] of raw) {
    let mapped = "";
    for (const b of utf8Encode(word)) mapped += BYTE_TO_CHAR[b];
    words.set(mapped, (words.get(mapped) ?? 0) + n);
  }
  return words;
}

/** Trains a byte-level BPE tokenizer on `texts` and returns its tokenizer.json object. */
export function trainByteLevelBpe(
  texts: Iterable<string>,
  options: ByteLevelBpeTrainingOptions,
): TokenizerJsonObject {
  const specialTokens = [...new Set(options.specialTokens ?? ["<|endoftext|>"])];
  const learned = learnBpeMerges(byteLevelWordCounts(texts), {
    vocabSize: options.vocabSize,
    minFrequency: options.minFrequency ?? 2,
    specialTokens,
    initialAlphabet: BYTE_TO_CHAR,
    onProgress: options.onProgress,
  });
  const byteLevel = (addPrefixSpace: boolean, trimOffsets: boolean) => ({
    type: "ByteLevel",
    add_prefix_space: addPrefixSpace,
    trim_offsets: trimOffsets,
    use_regex: true,
  });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specialTokens.map((token, id) => specialAddedToken(id, token)),
    normalizer: null,
    pre_tokenizer: byteLevel(false, true),
    post_processor: byteLevel(true, false),
    decoder: byteLevel(true, true),
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: vocabObject(learned.vocab),
      // "a b" strings: read by every tokenizers version (byte-level tokens never hold a space).
      merges: learned.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}
