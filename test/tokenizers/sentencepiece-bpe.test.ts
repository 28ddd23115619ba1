import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { AdaptlmError } from "../../src/errors.js";
import { ggufTokenizerMetadata, readGguf } from "../../src/io/gguf.js";
import { readLlama2cTokenizer } from "../../src/io/llama2c.js";
import { tokenizerFromGguf } from "../../src/tokenizers/gguf-tokenizer.js";
import { readLlama2cTokenizerBin } from "../../src/tokenizers/llama2c-tokenizer.js";
import { SentencePieceBpeModel } from "../../src/tokenizers/sentencepiece-bpe.js";
import { STORIES, VOCAB_DIR } from "./vectors.js";

const TEXTS = [
  "Hello world",
  " Hello world",
  "  leading and trailing spaces  ",
  "tabs\tand\r\nwindows newlines\n\n\n",
  "naïve café, Führer, Cửa Việt",
  "我想在apple工作1314151天～",
  "កាន់តែពិសេសអាចខលចេញ",
  "🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ 🦙🦙",
  "👨‍👩‍👧‍👦 family, 🇫🇷 flag, 1️⃣ keycap",
  "e\u0301 combining, \u00a0nbsp, \u200bzwsp",
  "Once upon a time, there was a little girl named Lily. She loved to play outside.",
];

/**
 * The merge loop written the slow, obvious way (run.c's `encode`, llama.cpp's llm_tokenizer_spm): scan all
 * adjacent pairs, merge the best-scoring one (the leftmost on ties), repeat. The oracle for the heap version.
 */
function naiveMerge(symbols: string[], score: (piece: string) => number | undefined): string[] {
  const out = symbols.slice();
  for (;;) {
    let best = -Infinity;
    let at = -1;
    for (let i = 0; i + 1 < out.length; i++) {
      const s = score(out[i] + out[i + 1]);
      if (s !== undefined && s > best) {
        best = s;
        at = i;
      }
    }
    if (at < 0) return out;
    out.splice(at, 2, out[at] + out[at + 1]);
  }
}

function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

/** Random strings over an alphabet, to compare the heap-based merge with the naive one. */
function randomTexts(alphabet: string[], count: number, seed: number): string[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () =>
    Array.from(
      { length: 1 + Math.floor(random() * 40) },
      () => alphabet[Math.floor(random() * alphabet.length)],
    ).join(""),
  );
}

describe("SentencePiece BPE: llama-spm GGUF (Llama 2 vocabulary)", () => {
  const llama = tokenizerFromGguf(join(VOCAB_DIR, "ggml-vocab-llama-spm.gguf"));
  const meta = ggufTokenizerMetadata(readGguf(join(VOCAB_DIR, "ggml-vocab-llama-spm.gguf")));
  const ids = new Map(meta.tokens.map((t, i) => [t, i]));

  test("BOS is added, spaces become ▁ with a dummy prefix", () => {
    assert.equal(llama.kind, "sentencepiece-bpe");
    assert.equal(llama.vocabSize, 32000);
    assert.equal(llama.bosTokenId, 1);
    assert.equal(llama.eosTokenId, 2);
    const encoding = llama.encode("Hello world");
    assert.deepEqual(encoding.ids, [1, 15043, 3186]);
    assert.deepEqual(encoding.tokens, ["<s>", "▁Hello", "▁world"]);
    assert.deepEqual(encoding.offsets, [
      [0, 0],
      [0, 5],
      [5, 11],
    ]);
  });

  test("byte fallback spells unknown characters as <0xXX> pieces", () => {
    const encoding = llama.encode("🦙", { addSpecialTokens: false });
    assert.deepEqual(encoding.tokens, ["▁", "<0xF0>", "<0x9F>", "<0xA6>", "<0x99>"]);
    for (const offset of encoding.offsets.slice(1)) assert.deepEqual(offset, [0, 2]);
  });

  test("decode(encode(x)) == x on unicode and emoji text", () => {
    for (const text of TEXTS) {
      assert.equal(
        llama.decode(llama.encode(text).ids, { skipSpecialTokens: true }),
        text,
        JSON.stringify(text),
      );
    }
    assert.equal(llama.decode(llama.encode("Hi").ids), "<s> Hi");
  });

  test("the heap-based merge equals the naive best-pair loop", () => {
    const score = (piece: string): number | undefined => {
      const id = ids.get(piece);
      return id === undefined ? undefined : meta.scores![id];
    };
    const alphabet = Array.from("abcdeilnorst ▁.,!?'3301éü我🦙\n");
    for (const text of [...TEXTS, ...randomTexts(alphabet, 300, 7)]) {
      const symbols = Array.from(` ${text}`.replaceAll(" ", "▁"));
      const expected = naiveMerge(symbols, score).flatMap((piece) =>
        ids.has(piece)
          ? [ids.get(piece)!]
          : Array.from(
              new TextEncoder().encode(piece),
              (b) => ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`)!,
            ),
      );
      assert.deepEqual(llama.encode(text, { addSpecialTokens: false }).ids, expected, JSON.stringify(text));
    }
  });

  test("long texts (many words, or one 60k-character word) encode and round-trip", () => {
    const text = TEXTS.join(" ").repeat(200);
    const encoding = llama.encode(text, { addSpecialTokens: false });
    assert.ok(encoding.ids.length > 10_000);
    assert.equal(llama.decode(encoding.ids), text);
    // No space to split at: one merge queue over 60k characters (a quadratic loop would not finish).
    const word = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(1700);
    assert.equal(llama.decode(llama.encode(word).ids, { skipSpecialTokens: true }), word);
  });
});

describe("SentencePiece BPE: llama2.c tokenizer.bin (stories260K tok512.bin)", () => {
  const path = join(STORIES, "tok512.bin");
  const tok = readLlama2cTokenizerBin(path, 512);
  const raw = readLlama2cTokenizer(path, 512);
  const ids = new Map(raw.vocab.map((t, i) => [t, i]));

  /** run.c `encode(text, bos=1, eos=0)`, transcribed naively (O(n^2) merge loop). */
  function runCEncode(text: string): number[] {
    const tokens: number[] = [1];
    if (text !== "") tokens.push(ids.get(" ")!);
    const bytes = new TextEncoder().encode(text);
    let group: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      if ((bytes[i] & 0xc0) !== 0x80) group = [];
      group.push(bytes[i]);
      if (i + 1 < bytes.length && (bytes[i + 1] & 0xc0) === 0x80 && group.length < 4) continue;
      const id = ids.get(new TextDecoder().decode(Uint8Array.from(group)));
      if (id !== undefined) tokens.push(id);
      else for (const b of group) tokens.push(b + 3);
      group = [];
    }
    for (;;) {
      let best = -1e10;
      let bestId = -1;
      let at = -1;
      for (let i = 0; i + 1 < tokens.length; i++) {
        const id = ids.get(raw.vocab[tokens[i]] + raw.vocab[tokens[i + 1]]);
        if (id !== undefined && raw.scores[id] > best) {
          best = raw.scores[id];
          bestId = id;
          at = i;
        }
      }
      if (at < 0) return tokens;
      tokens.splice(at, 2, bestId);
    }
  }

  test("pieces use plain spaces; BOS 1, EOS 2, bytes at id byte+3", () => {
    assert.equal(tok.vocabSize, 512);
    assert.equal(tok.bosTokenId, 1);
    assert.equal(tok.eosTokenId, 2);
    assert.equal(tok.idToToken(3 + 0x0a), "<0x0A>");
    const encoding = tok.encode("Once upon a time");
    assert.equal(encoding.ids[0], 1);
    assert.ok(encoding.tokens.slice(1).every((t) => !t.includes("▁")));
  });

  test("encode equals run.c's algorithm on stories, unicode and random text", () => {
    const story = readFileSync(join(STORIES, "expected_greedy_200.txt"), "utf8");
    const alphabet = Array.from("abdehilnorstuwy .,!\n'Lé🦙");
    for (const text of [...TEXTS, story, "", " ", ...randomTexts(alphabet, 200, 11)]) {
      assert.deepEqual(tok.encode(text).ids, runCEncode(text), JSON.stringify(text.slice(0, 40)));
    }
  });

  test("decode undoes encode, as run.c's decode after BOS", () => {
    const story = readFileSync(join(STORIES, "expected_greedy_200.txt"), "utf8");
    for (const text of [...TEXTS, story]) {
      assert.equal(tok.decode(tok.encode(text).ids, { skipSpecialTokens: true }), text, JSON.stringify(text));
    }
  });

  test("a truncated tokenizer.bin is a typed error", () => {
    const dir = mkdtempSync(join(tmpdir(), "adaptlm-tokbin-"));
    try {
      const bytes = readFileSync(path);
      for (const length of [0, 3, 10, 100, bytes.length - 1]) {
        const cut = join(dir, "tokenizer.bin");
        writeFileSync(cut, bytes.subarray(0, length));
        assert.throws(
          () => readLlama2cTokenizerBin(cut, 512),
          (e: unknown) => e instanceof AdaptlmError,
          `${length}`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("SentencePiece BPE model options", () => {
  const vocab = ["<unk>", "▁", "a", "b", "▁a", "ab", "▁ab", "<0x63>"];
  const scores = [0, -1, -2, -2, -1, -3, -0.5, 0];

  test("merging by rank (tokenizer.json) instead of score", () => {
    const byRank = new SentencePieceBpeModel({
      vocab,
      merges: [
        ["a", "b"],
        ["▁", "a"],
      ],
      unkToken: "<unk>",
    });
    // By rank "a b" merges first and nothing merges "▁" with "ab": the pair is not listed.
    assert.deepEqual(
      byRank.tokenize("ab", 0, 2, true).map((p) => p.token),
      ["▁", "ab"],
    );
    // By score "▁a" (-1) beats "ab" (-3), then "▁a" + "b" forms "▁ab".
    const byScore = new SentencePieceBpeModel({ vocab, scores, unkToken: "<unk>" });
    assert.deepEqual(
      byScore.tokenize("ab", 0, 2, true).map((p) => p.token),
      ["▁ab"],
    );
  });

  test("dummy prefix 'first' only prefixes the first segment; 'never' never does", () => {
    const first = new SentencePieceBpeModel({ vocab, scores, unkToken: "<unk>", dummyPrefix: "first" });
    assert.deepEqual(
      first.tokenize("a", 0, 1, false).map((p) => p.token),
      ["a"],
    );
    assert.deepEqual(
      first.tokenize("a", 0, 1, true).map((p) => p.token),
      ["▁a"],
    );
    const never = new SentencePieceBpeModel({ vocab, scores, unkToken: "<unk>", dummyPrefix: "never" });
    assert.equal(never.decode(["▁a"], [false]), " a");
  });

  test("byte fallback needs every byte piece, else the unknown token", () => {
    const model = new SentencePieceBpeModel({ vocab, scores, unkToken: "<unk>", dummyPrefix: "never" });
    assert.deepEqual(
      model.tokenize("cz", 0, 2, true).map((p) => p.token),
      ["<0x63>", "<unk>"],
    );
    const noFallback = new SentencePieceBpeModel({
      vocab,
      scores,
      byteFallback: false,
      dummyPrefix: "never",
    });
    assert.throws(() => noFallback.tokenize("z", 0, 1, true), { name: "TokenizerError" });
  });

  test("split on spaces merges inside each word only (Metaspace split)", () => {
    const v = ["<unk>", "▁", "a", "▁a", "a▁"];
    const s = [0, -1, -1, -1, 0];
    const joined = new SentencePieceBpeModel({
      vocab: v,
      scores: s,
      unkToken: "<unk>",
      dummyPrefix: "never",
    });
    assert.deepEqual(
      joined.tokenize("a a", 0, 3, true).map((p) => p.token),
      ["a▁", "a"],
    );
    const split = new SentencePieceBpeModel({
      vocab: v,
      scores: s,
      unkToken: "<unk>",
      dummyPrefix: "never",
      splitOnSpace: true,
    });
    assert.deepEqual(
      split.tokenize("a a", 0, 3, true).map((p) => p.token),
      ["a", "▁a"],
    );
  });
});

test("the library is an AdaptlmError hierarchy for tokenizer failures", () => {
  assert.throws(
    () => tokenizerFromGguf(join(VOCAB_DIR, "does-not-exist.gguf")),
    (e: unknown) => e instanceof AdaptlmError && (e as AdaptlmError).code === "GGUF_NOT_FOUND",
  );
});
