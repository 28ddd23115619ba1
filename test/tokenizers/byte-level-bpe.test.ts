import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { GgufValueType, readGguf } from "../../src/io/gguf.js";
import { ByteLevelBpeModel, PRETOKENIZE_PATTERNS } from "../../src/tokenizers/byte-level-bpe.js";
import { tokenizerFromGguf } from "../../src/tokenizers/gguf-tokenizer.js";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { BYTE_TO_CHAR } from "../../src/tokenizers/unicode.js";
import { readVocabJsonAndMerges } from "../../src/tokenizers/vocab-files.js";
import { GPT2_ENCODER, GPT2_MERGES, TINY_GPT2, VOCAB_DIR } from "./vectors.js";

const UNICODE_TEXTS = [
  "Hello world",
  "  leading and trailing spaces  ",
  "tabs\tand\r\nwindows newlines\n\n\n",
  "naïve café, Führer, Cửa Việt",
  "нещо на Български",
  "我想在apple工作1314151天～",
  "កាន់តែពិសេសអាចខលចេញ",
  "🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ 🦙🦙",
  "👨‍👩‍👧‍👦 family, 🇫🇷 flag, 1️⃣ keycap",
  "مرحبا بالعالم",
  "e\u0301 combining, \u00a0nbsp, \u200bzwsp, \u0000nul",
  "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it",
];

describe("byte-level BPE: GPT-2 encoder.json + vocab.bpe", () => {
  const gpt2 = readVocabJsonAndMerges(GPT2_ENCODER, GPT2_MERGES);

  test("known GPT-2 encodings", () => {
    assert.equal(gpt2.vocabSize, 50257);
    assert.deepEqual(gpt2.encode("Hello world").ids, [15496, 995]);
    assert.deepEqual(gpt2.encode(" Hello world").ids, [18435, 995]);
    assert.deepEqual(gpt2.encode("Hello, world!").ids, [15496, 11, 995, 0]);
    assert.deepEqual(gpt2.encode("Hello world").tokens, ["Hello", "Ġworld"]);
  });

  test("<|endoftext|> is one token when special tokens are parsed, plain text otherwise", () => {
    assert.deepEqual(gpt2.encode("a<|endoftext|>b").ids, [64, 50256, 65]);
    assert.deepEqual(gpt2.encode("<|endoftext|>", { parseSpecialTokens: false }).tokens, [
      "<",
      "|",
      "end",
      "of",
      "text",
      "|",
      ">",
    ]);
    assert.equal(gpt2.eosTokenId, 50256);
    assert.equal(gpt2.decode([64, 50256, 65], { skipSpecialTokens: true }), "ab");
    assert.equal(gpt2.decode([64, 50256, 65]), "a<|endoftext|>b");
  });

  test("decode(encode(x)) == x on unicode and emoji text", () => {
    for (const text of UNICODE_TEXTS) {
      assert.equal(gpt2.decode(gpt2.encode(text).ids), text, JSON.stringify(text));
    }
  });

  test("a token's offsets cover the characters its bytes belong to", () => {
    for (const text of UNICODE_TEXTS) {
      const encoding = gpt2.encode(text);
      encoding.ids.forEach((id, i) => {
        const [start, end] = encoding.offsets[i];
        const source = text.slice(start, end);
        const decoded = gpt2.decode([id]);
        if (!decoded.includes("\uFFFD")) assert.equal(source, decoded, `${JSON.stringify(text)} token ${i}`);
        else assert.ok(source.length > 0, "a partial character still points at its character");
      });
    }
  });

  test("the GGUF copy of GPT-2's vocabulary tokenizes identically", () => {
    const fromGguf = tokenizerFromGguf(join(VOCAB_DIR, "ggml-vocab-gpt-2.gguf"));
    for (const text of UNICODE_TEXTS) {
      const a = gpt2.encode(text);
      const b = fromGguf.encode(text);
      assert.deepEqual(b.ids, a.ids, JSON.stringify(text));
      assert.deepEqual(b.offsets, a.offsets);
    }
  });

  test("a long text encodes (BPE per word with a cache) and round-trips", () => {
    const words = UNICODE_TEXTS.join(" ");
    const text = Array.from({ length: 400 }, (_, i) => `${words} ${i}`).join("\n");
    const encoding = gpt2.encode(text);
    assert.ok(encoding.ids.length > 10_000);
    assert.equal(gpt2.decode(encoding.ids), text);
    // One very long word (no pre-tokenizer split) goes through the heap-based merge.
    const word = "abcdefghij".repeat(2000);
    assert.equal(gpt2.decode(gpt2.encode(word).ids), word);
  });
});

describe("byte-level BPE: tiny GPT-2 folder saved by transformers", () => {
  const tiny = loadTokenizer(TINY_GPT2);

  test("loads vocab.json + merges.txt with the specials of tokenizer_config.json", () => {
    assert.equal(tiny.kind, "byte-level-bpe");
    assert.equal(tiny.vocabSize, 21);
    assert.equal(tiny.bosTokenId, 20);
    assert.equal(tiny.eosTokenId, 20);
    assert.equal(tiny.unkTokenId, 19);
    assert.equal(tiny.padTokenId, undefined);
  });

  test("merges apply by rank; bytes missing from the toy vocabulary become <unk>", () => {
    // merges: "Ġ l", "Ġl o", "Ġlo w", "e r" — "Ġlowest" is in the vocabulary but unreachable by merges.
    const encoding = tiny.encode(" lowest newer");
    assert.deepEqual(encoding.tokens, ["Ġlow", "e", "s", "t", "Ġ", "n", "e", "w", "er"]);
    assert.deepEqual(encoding.ids, [14, 3, 5, 6, 10, 9, 3, 2, 15]);
    assert.deepEqual(tiny.encode("x<|endoftext|>").ids, [19, 20]);
    assert.equal(tiny.decode([14, 3, 5, 6, 10, 9, 3, 2, 15]), " lowest newer");
  });
});

describe("byte-level BPE model options", () => {
  const vocab = new Map<string, number>();
  for (let b = 0; b < 256; b++) vocab.set(BYTE_TO_CHAR[b], b);
  vocab.set("Ġh", 256).set("Ġhi", 257).set("hi", 258);
  const merges: [string, string][] = [
    ["Ġ", "h"],
    ["Ġh", "i"],
    ["h", "i"],
  ];

  test("addPrefixSpace prepends a space without moving offsets", () => {
    const model = new ByteLevelBpeModel({ vocab, merges, addPrefixSpace: true });
    const pieces = model.tokenize("hi hi", 0, 5);
    assert.deepEqual(
      pieces.map((p) => p.token),
      ["Ġhi", "Ġhi"],
    );
    assert.deepEqual(
      pieces.map((p) => [p.start, p.end]),
      [
        [0, 2],
        [2, 5],
      ],
    );
  });

  test("trimOffsets leaves the leading space out of a token's offsets", () => {
    const model = new ByteLevelBpeModel({ vocab, merges, trimOffsets: true });
    assert.deepEqual(
      model.tokenize("hi hi", 0, 5).map((p) => [p.start, p.end]),
      [
        [0, 2],
        [3, 5],
      ],
    );
  });
});

describe("pre-tokenization patterns", () => {
  const split = (pattern: string, text: string) => text.match(new RegExp(pattern, "gu"));

  test("GPT-2: contractions, letters, digits, other, and whitespace kept before the next word", () => {
    assert.deepEqual(split(PRETOKENIZE_PATTERNS.gpt2, "I've  got\n\n 33 $$x"), [
      "I",
      "'ve",
      " ",
      " got",
      "\n\n",
      " 33",
      " $$",
      "x",
    ]);
  });

  test("Llama 3: digits in groups of three, case-insensitive contractions", () => {
    assert.deepEqual(split(PRETOKENIZE_PATTERNS.llama3, "Hello world 12345 I'VE"), [
      "Hello",
      " world",
      " ",
      "123",
      "45",
      " I",
      "'VE",
    ]);
    assert.deepEqual(split(PRETOKENIZE_PATTERNS.qwen2, "x 123"), ["x", " ", "1", "2", "3"]);
  });

  test("text between matches of a Split pattern stays a word of its own", () => {
    const gpt2 = readVocabJsonAndMerges(GPT2_ENCODER, GPT2_MERGES);
    const vocab = new Map<string, number>();
    for (let id = 0; id < gpt2.vocabSize; id++) vocab.set(gpt2.idToToken(id)!, id);
    const merges = readFileSync(GPT2_MERGES, "utf8")
      .split("\n")
      .slice(1)
      .filter((l) => l !== "")
      .map((l) => l.split(" ") as [string, string]);
    const digits = new ByteLevelBpeModel({ vocab, merges, patterns: [String.raw`\p{N}`] });
    const ids = (text: string) => gpt2.encode(text, { addSpecialTokens: false }).ids;
    assert.deepEqual(
      digits.tokenize("hello12", 0, 7).map((p) => p.id),
      [...ids("hello"), ...ids("1"), ...ids("2")],
    );
  });
});

test("GGUF pre-tokenizer names select llama.cpp's regex lists; all keep every character", () => {
  const file = readGguf(join(VOCAB_DIR, "ggml-vocab-gpt-2.gguf"));
  const withPre = (pre: string) => {
    const metadata = new Map(file.metadata);
    metadata.set("tokenizer.ggml.pre", { type: GgufValueType.STRING, value: pre });
    return tokenizerFromGguf({ ...file, metadata });
  };
  const gpt2 = withPre("gpt-2");
  const digits = (text: string) => Array.from(text, (d) => gpt2.encode(d).ids[0]);
  for (const pre of ["default", "falcon", "smollm", "starcoder", "llama-bpe", "qwen2", "dbrx", "olmo"]) {
    const tokenizer = withPre(pre);
    for (const text of UNICODE_TEXTS) {
      assert.equal(tokenizer.decode(tokenizer.encode(text).ids, { skipSpecialTokens: true }), text, `${pre}`);
    }
  }
  assert.deepEqual(withPre("smollm").encode("2024").ids, digits("2024"));
  assert.deepEqual(withPre("qwen2").encode("2024").ids, digits("2024"));
  assert.deepEqual(withPre("llama-bpe").encode("12345", { addSpecialTokens: false }).ids, [
    ...gpt2.encode("123").ids,
    ...gpt2.encode("45").ids,
  ]);
  assert.throws(() => withPre("no-such-pre"), { name: "TokenizerError", code: "TOKENIZER_UNSUPPORTED" });
});
