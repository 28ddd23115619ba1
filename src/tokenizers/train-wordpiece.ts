// Trains a BERT-style WordPiece tokenizer, as Hugging Face's WordPieceTrainer does (BertWordPieceTokenizer.train):
//
// 1. normalize and split each text as BERT does (clean text, CJK characters apart, lower-case and strip
//    accents, split on whitespace and punctuation) — the very code that encodes with the result
//    (WordPieceModel's words), so training and encoding see the same words;
// 2. learn BPE merges over the word counts where every symbol after a word's first carries "##"
//    (bpe-trainer.ts): the vocabulary is the special tokens, the alphabet, the "##c" forms and the merged
//    tokens ("th", "##ing", ...);
// 3. WordPiece encodes greedily longest-match-first over that vocabulary (no merges are kept).
//
// The result is a tokenizer.json object with a BertNormalizer, BertPreTokenizer, WordPiece model (unk
// "[UNK]", max_input_chars_per_word 100), TemplateProcessing "[CLS] $A [SEP]" / "[CLS] $A [SEP] $B:1 [SEP]:1"
// and a WordPiece decoder, as bert-base-uncased's.

import { learnBpeMerges } from "./bpe-trainer.js";
import { TokenizerError } from "./errors.js";
import { specialAddedToken, type TokenizerJsonObject, vocabObject } from "./tokenizer-files.js";
import { type BertNormalizerOptions, WordPieceModel } from "./wordpiece.js";

export const WORDPIECE_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;
const CONTINUING_PREFIX = "##";

export interface WordPieceTrainingOptions {
  /** Vocabulary size including the special tokens, the alphabet and the "##c" forms. */
  vocabSize: number;
  /** Lower-case and strip accents (BERT uncased); default true. */
  lowercase?: boolean;
  /** Special tokens, given ids 0.. (default [PAD] [UNK] [CLS] [SEP] [MASK]); must hold [UNK], [CLS], [SEP]. */
  specialTokens?: string[];
  /** A pair must occur at least this often to be merged (default 2, as BertWordPieceTokenizer.train). */
  minFrequency?: number;
  /** Keep only the most frequent characters (default 1000, as BertWordPieceTokenizer.train). */
  limitAlphabet?: number;
  onProgress?: (progress: { merges: number; target: number }) => void;
}

/** The part of WordPieceModel this file uses: BERT's normalization and word split. */
interface BertWordSplitter {
  words(text: string, start: number, end: number): { chars: string[] }[];
}

/** Distinct BERT-normalized words of `texts` (lower-cased and accent-stripped when asked), with counts. */
export function bertWordCounts(texts: Iterable<string>, lowercase = true): Map<string, number> {
  const normalizer: BertNormalizerOptions = { cleanText: true, handleChineseChars: true, lowercase };
  // WordPieceModel keeps its word split private; a one-token model is used only for it.
  const splitter = new WordPieceModel({
    vocab: ["[UNK]"],
    unkToken: "[UNK]",
    normalizer,
  }) as unknown as BertWordSplitter;
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const word of splitter.words(text, 0, text.length)) {
      const key = word.chars.join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** Trains a WordPiece tokenizer on `texts` and returns its tokenizer.json object. */
export function trainWordPiece(
  texts: Iterable<string>,
  options: WordPieceTrainingOptions,
): TokenizerJsonObject {
  const lowercase = options.lowercase ?? true;
  const specialTokens = [...new Set(options.specialTokens ?? WORDPIECE_SPECIAL_TOKENS)];
  for (const needed of ["[UNK]", "[CLS]", "[SEP]"]) {
    if (!specialTokens.includes(needed)) {
      throw new TokenizerError(
        "TOKENIZER_BAD_REQUEST",
        `WordPiece special tokens ${JSON.stringify(specialTokens)} lack ${needed}: the WordPiece model needs [UNK] ` +
          "and the [CLS] $A [SEP] template needs [CLS] and [SEP]",
      );
    }
  }
  const learned = learnBpeMerges(bertWordCounts(texts, lowercase), {
    vocabSize: options.vocabSize,
    minFrequency: options.minFrequency ?? 2,
    specialTokens,
    limitAlphabet: options.limitAlphabet ?? 1000,
    continuingSubwordPrefix: CONTINUING_PREFIX,
    onProgress: options.onProgress,
  });
  const idOf = (token: string) => specialTokens.indexOf(token);
  const special = (token: string, typeId: number) => ({ SpecialToken: { id: token, type_id: typeId } });
  const sequence = (id: "A" | "B", typeId: number) => ({ Sequence: { id, type_id: typeId } });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specialTokens.map((token, id) => specialAddedToken(id, token)),
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      // null: strip accents when lower-casing (BERT's rule).
      strip_accents: null,
      lowercase,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [special("[CLS]", 0), sequence("A", 0), special("[SEP]", 0)],
      pair: [
        special("[CLS]", 0),
        sequence("A", 0),
        special("[SEP]", 0),
        sequence("B", 1),
        special("[SEP]", 1),
      ],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [idOf("[CLS]")], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [idOf("[SEP]")], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: CONTINUING_PREFIX, cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: CONTINUING_PREFIX,
      max_input_chars_per_word: 100,
      vocab: vocabObject(learned.vocab),
    },
  };
}
