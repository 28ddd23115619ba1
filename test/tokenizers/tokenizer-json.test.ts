// tokenizer.json files built here in the layout the tokenizers library writes (from the shared vocabularies),
// checked against the llama.cpp vectors and against the other file formats of the same vocabulary.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ggufTokenizerMetadata, readGguf } from "../../src/io/gguf.js";
import { tokenizerFromJson } from "../../src/tokenizers/tokenizer-json.js";
import { readVocabJsonAndMerges, readVocabTxt } from "../../src/tokenizers/vocab-files.js";
import { BERT_VOCAB, GPT2_ENCODER, GPT2_MERGES, readVectors, VOCAB_DIR } from "./vectors.js";

const special = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

function bertTokenizerJson(): Record<string, unknown> {
  const lines = readFileSync(BERT_VOCAB, "utf8").split("\n");
  lines.pop();
  const vocab = Object.fromEntries(lines.map((token, id) => [token, id]));
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      special(0, "[PAD]"),
      special(100, "[UNK]"),
      special(101, "[CLS]"),
      special(102, "[SEP]"),
      special(103, "[MASK]"),
    ],
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [101], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [102], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

function gpt2TokenizerJson(mergesAsPairs: boolean): Record<string, unknown> {
  const vocab = JSON.parse(readFileSync(GPT2_ENCODER, "utf8"));
  const lines = readFileSync(GPT2_MERGES, "utf8")
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#version"));
  return {
    version: "1.0",
    added_tokens: [special(50256, "<|endoftext|>")],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: mergesAsPairs ? lines.map((l) => l.split(" ")) : lines,
    },
  };
}

/**
 * A Llama-2-style tokenizer.json from the llama-spm GGUF: merges listed the way transformers' LlamaConverter
 * derives them from a SentencePiece model (every split of a piece into two pieces, by the piece's score).
 */
function llamaTokenizerJson(style: "legacy" | "metaspace"): Record<string, unknown> {
  const meta = ggufTokenizerMetadata(readGguf(join(VOCAB_DIR, "ggml-vocab-llama-spm.gguf")));
  const ids = new Map(meta.tokens.map((t, i) => [t, i]));
  const candidates: { left: string; right: string; score: number; id: number }[] = [];
  meta.tokens.forEach((piece, id) => {
    if (meta.tokenTypes?.[id] !== 1) return;
    const chars = Array.from(piece);
    for (let k = 1; k < chars.length; k++) {
      const left = chars.slice(0, k).join("");
      const right = chars.slice(k).join("");
      if (ids.has(left) && ids.has(right)) candidates.push({ left, right, score: meta.scores![id], id });
    }
  });
  candidates.sort((a, b) => b.score - a.score || a.id - b.id);
  const vocab = Object.fromEntries(meta.tokens.map((t, i) => [t, i]));
  const legacy = style === "legacy";
  return {
    version: "1.0",
    added_tokens: [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
    normalizer: legacy
      ? {
          type: "Sequence",
          normalizers: [
            { type: "Prepend", prepend: "▁" },
            { type: "Replace", pattern: { String: " " }, content: "▁" },
          ],
        }
      : null,
    pre_tokenizer: legacy
      ? null
      : { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: false },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "<s>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "<s>", type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: candidates.map((c) => `${c.left} ${c.right}`),
    },
  };
}

describe("tokenizer.json: WordPiece (bert-base-uncased layout)", () => {
  const fromJson = tokenizerFromJson(bertTokenizerJson());
  const fromTxt = readVocabTxt(BERT_VOCAB);

  test("reproduces the llama.cpp bert-bge vectors", () => {
    for (const { text, ids } of readVectors("ggml-vocab-bert-bge")) {
      assert.deepEqual(
        fromJson.encode(text, { addSpecialTokens: false, parseSpecialTokens: false }).ids,
        ids,
      );
    }
  });

  test("same specials, template, offsets and decode as vocab.txt", () => {
    assert.equal(fromJson.clsTokenId, 101);
    assert.equal(fromJson.maskTokenId, 103);
    for (const [a, b] of [
      ["The capital of France is [MASK].", "Héllo wörld!"],
      ["我想在apple工作", "don't stop"],
    ]) {
      assert.deepEqual(fromJson.encode(a, { pair: b }), fromTxt.encode(a, { pair: b }));
      const ids = fromJson.encode(a).ids;
      assert.equal(
        fromJson.decode(ids, { skipSpecialTokens: true }),
        fromTxt.decode(ids, { skipSpecialTokens: true }),
      );
    }
  });
});

describe("tokenizer.json: byte-level BPE (GPT-2 layout)", () => {
  for (const mergesAsPairs of [false, true]) {
    test(`reproduces the llama.cpp gpt-2 vectors (merges as ${mergesAsPairs ? "pairs" : "strings"})`, () => {
      const tokenizer = tokenizerFromJson(gpt2TokenizerJson(mergesAsPairs));
      assert.equal(tokenizer.kind, "byte-level-bpe");
      for (const { text, ids } of readVectors("ggml-vocab-gpt-2")) {
        assert.deepEqual(
          tokenizer.encode(text, { addSpecialTokens: false, parseSpecialTokens: false }).ids,
          ids,
        );
      }
      assert.equal(tokenizer.eosTokenId, 50256);
      assert.deepEqual(tokenizer.encode("Hello<|endoftext|>").ids, [15496, 50256]);
    });
  }

  test("offsets equal the vocab.json tokenizer's (no trimming for GPT-2)", () => {
    const fromJson = tokenizerFromJson(gpt2TokenizerJson(false));
    const fromFiles = readVocabJsonAndMerges(GPT2_ENCODER, GPT2_MERGES);
    const text = " Hello, world! 🦙 naïve";
    assert.deepEqual(fromJson.encode(text), fromFiles.encode(text));
  });

  test("RobertaProcessing: <s> A </s></s> B </s>, trimmed offsets", () => {
    const json = gpt2TokenizerJson(false);
    json.post_processor = {
      type: "RobertaProcessing",
      sep: ["<|endoftext|>", 50256],
      cls: ["<|endoftext|>", 50256],
      trim_offsets: true,
      add_prefix_space: false,
    };
    const tokenizer = tokenizerFromJson(json);
    const encoding = tokenizer.encode("Hi there", { pair: "you" });
    assert.deepEqual(encoding.ids, [50256, 17250, 612, 50256, 50256, 5832, 50256]);
    assert.deepEqual(encoding.offsets[2], [3, 8], "the space before 'there' is trimmed");
    assert.deepEqual(encoding.typeIds, [0, 0, 0, 0, 0, 0, 0]);
  });
});

describe("tokenizer.json: byte-level pre-tokenizer sequences and normalizers", () => {
  const gpt2 = readVocabJsonAndMerges(GPT2_ENCODER, GPT2_MERGES);
  const ids = (text: string) => gpt2.encode(text, { addSpecialTokens: false }).ids;

  test("Digits(individual_digits) before ByteLevel splits numbers into single digits (SmolLM layout)", () => {
    const json = gpt2TokenizerJson(false);
    json.pre_tokenizer = {
      type: "Sequence",
      pretokenizers: [
        { type: "Digits", individual_digits: true },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    };
    const tokenizer = tokenizerFromJson(json);
    assert.deepEqual(tokenizer.encode("x 2024").ids, [
      ...ids("x"),
      ...ids(" "),
      ...ids("2"),
      ...ids("0"),
      ...ids("2"),
      ...ids("4"),
    ]);
  });

  test("an NFC normalizer composes accents; offsets still index the original text (Qwen2 layout)", () => {
    const json = gpt2TokenizerJson(false);
    json.normalizer = { type: "NFC" };
    const tokenizer = tokenizerFromJson(json);
    const decomposed = "cafe\u0301 ok";
    const encoding = tokenizer.encode(decomposed);
    assert.deepEqual(encoding.ids, ids("café ok"));
    assert.equal(encoding.offsets.at(-1)?.[1], decomposed.length);
    assert.equal(tokenizer.decode(encoding.ids), "café ok");
  });

  test("unsupported pre-tokenizers and normalizers are named", () => {
    const json = gpt2TokenizerJson(false);
    json.normalizer = { type: "Precompiled", precompiled_charsmap: "" };
    assert.throws(() => tokenizerFromJson(json), { code: "TOKENIZER_UNSUPPORTED", message: /Precompiled/ });
    const json2 = gpt2TokenizerJson(false);
    json2.pre_tokenizer = {
      type: "Sequence",
      pretokenizers: [{ type: "Whitespace" }, { type: "ByteLevel" }],
    };
    assert.throws(() => tokenizerFromJson(json2), { code: "TOKENIZER_UNSUPPORTED", message: /Whitespace/ });
  });
});

describe("tokenizer.json: SentencePiece-style BPE with byte fallback (Llama layout)", () => {
  for (const style of ["legacy", "metaspace"] as const) {
    test(`reproduces the llama.cpp llama-spm vectors (${style} normalizer)`, () => {
      const tokenizer = tokenizerFromJson(llamaTokenizerJson(style));
      assert.equal(tokenizer.kind, "sentencepiece-bpe");
      for (const { text, ids } of readVectors("ggml-vocab-llama-spm")) {
        assert.deepEqual(
          tokenizer.encode(text, { addSpecialTokens: false, parseSpecialTokens: false }).ids,
          ids,
          JSON.stringify(text),
        );
      }
      assert.deepEqual(tokenizer.encode("Hello world").ids, [1, 15043, 3186]);
      assert.equal(
        tokenizer.decode(tokenizer.encode("naïve 🦙\n").ids, { skipSpecialTokens: true }),
        "naïve 🦙\n",
      );
    });
  }
});

test("tokenizer_config.json's add_bos_token/add_eos_token rebuild a Llama template", () => {
  const json = llamaTokenizerJson("legacy");
  const config = (flags: { addBosToken?: boolean; addEosToken?: boolean }) => ({
    addedTokens: [],
    tokenizerClass: "LlamaTokenizer",
    ...flags,
  });
  const both = tokenizerFromJson(json, "tokenizer.json", config({ addEosToken: true }));
  assert.deepEqual(both.encode("Hello world").ids, [1, 15043, 3186, 2]);
  assert.deepEqual(both.encode("Hi", { pair: "Hi" }).typeIds, [0, 0, 0, 1, 1, 1]);
  const none = tokenizerFromJson(json, "tokenizer.json", config({ addBosToken: false }));
  assert.deepEqual(none.encode("Hello world").ids, [15043, 3186]);
});

describe("tokenizer.json: malformed and unsupported files are typed errors", () => {
  const cases: [string, unknown, string][] = [
    ["not an object", [1, 2], "TOKENIZER_BAD_FILE"],
    ["no model", { version: "1.0" }, "TOKENIZER_BAD_FILE"],
    ["unsupported model", { model: { type: "Unigram", vocab: [] } }, "TOKENIZER_UNSUPPORTED"],
    ["vocab not an object", { model: { type: "WordPiece", vocab: ["a"] } }, "TOKENIZER_BAD_FILE"],
    ["negative id", { model: { type: "WordPiece", vocab: { "[UNK]": -1 } } }, "TOKENIZER_BAD_FILE"],
    [
      "no unk in vocab",
      { model: { type: "WordPiece", unk_token: "[UNK]", vocab: { a: 0 } } },
      "TOKENIZER_BAD_FILE",
    ],
    [
      "bad merge",
      { pre_tokenizer: { type: "ByteLevel" }, model: { type: "BPE", vocab: { a: 0 }, merges: [42] } },
      "TOKENIZER_BAD_FILE",
    ],
    [
      "merges missing",
      { pre_tokenizer: { type: "ByteLevel" }, model: { type: "BPE", vocab: { a: 0 } } },
      "TOKENIZER_BAD_FILE",
    ],
    ["plain BPE", { model: { type: "BPE", vocab: { a: 0 }, merges: [] } }, "TOKENIZER_UNSUPPORTED"],
    [
      "suffix BPE",
      { model: { type: "BPE", vocab: { a: 0 }, merges: [], end_of_word_suffix: "</w>" } },
      "TOKENIZER_UNSUPPORTED",
    ],
    [
      "WordPiece with a Whitespace pre-tokenizer",
      { pre_tokenizer: { type: "Whitespace" }, model: { type: "WordPiece", vocab: { "[UNK]": 0 } } },
      "TOKENIZER_UNSUPPORTED",
    ],
    [
      "SentencePiece BPE with an NFKC normalizer",
      {
        normalizer: { type: "Sequence", normalizers: [{ type: "NFKC" }, { type: "Prepend", prepend: "▁" }] },
        model: { type: "BPE", vocab: { a: 0 }, merges: [] },
      },
      "TOKENIZER_UNSUPPORTED",
    ],
    [
      "bad added token",
      { added_tokens: [{ content: "x" }], model: { type: "WordPiece", vocab: { "[UNK]": 0 } } },
      "TOKENIZER_BAD_FILE",
    ],
  ];
  for (const [name, json, code] of cases) {
    test(name, () => {
      assert.throws(() => tokenizerFromJson(json, "tokenizer.json"), { name: "TokenizerError", code });
    });
  }
});
