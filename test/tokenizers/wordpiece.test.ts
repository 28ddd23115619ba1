import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { readVocabTxt } from "../../src/tokenizers/vocab-files.js";
import { WordPieceModel } from "../../src/tokenizers/wordpiece.js";
import { BERT_VOCAB } from "./vectors.js";

describe("WordPiece: bert-base-uncased vocab.txt", () => {
  const bert = readVocabTxt(BERT_VOCAB);

  test("vocabulary and special tokens", () => {
    assert.equal(bert.kind, "wordpiece");
    assert.equal(bert.vocabSize, 30522);
    assert.equal(bert.clsTokenId, 101);
    assert.equal(bert.sepTokenId, 102);
    assert.equal(bert.padTokenId, 0);
    assert.equal(bert.unkTokenId, 100);
    assert.equal(bert.maskTokenId, 103);
    assert.equal(bert.tokenToId("hello"), 7592);
    assert.equal(bert.idToToken(2088), "world");
  });

  test("Hugging Face's documentation examples", () => {
    // transformers docs: tokenizer("Hello, my dog is cute")
    assert.deepEqual(
      bert.encode("Hello, my dog is cute").ids,
      [101, 7592, 1010, 2026, 3899, 2003, 10140, 102],
    );
    // fill-mask example: [MASK] written in the text is the mask token, not "[", "mask", "]"
    const masked = bert.encode("The capital of France is [MASK].");
    assert.deepEqual(masked.ids, [101, 1996, 3007, 1997, 2605, 2003, 103, 1012, 102]);
    assert.deepEqual(masked.tokens, [
      "[CLS]",
      "the",
      "capital",
      "of",
      "france",
      "is",
      "[MASK]",
      ".",
      "[SEP]",
    ]);
  });

  test("lower-casing and accent stripping", () => {
    assert.deepEqual(bert.encode("Héllo Wörld naïve CAFÉ", { addSpecialTokens: false }).tokens, [
      "hello",
      "world",
      "naive",
      "cafe",
    ]);
    // Decomposed input (e + combining acute) gives the same as composed.
    assert.deepEqual(
      bert.encode("cafe\u0301", { addSpecialTokens: false }).ids,
      bert.encode("café", { addSpecialTokens: false }).ids,
    );
  });

  test("punctuation is split per BERT's definition (ASCII symbols too)", () => {
    assert.deepEqual(bert.encode("don't stop: U.S.A. $5+3=8", { addSpecialTokens: false }).tokens, [
      "don",
      "'",
      "t",
      "stop",
      ":",
      "u",
      ".",
      "s",
      ".",
      "a",
      ".",
      "$",
      "5",
      "+",
      "3",
      "=",
      "8",
    ]);
    // Unicode punctuation (category P) splits; a symbol like © (So) does not.
    assert.deepEqual(bert.encode("«hi»—ok", { addSpecialTokens: false }).tokens, ["«", "hi", "»", "—", "ok"]);
  });

  test("CJK ideographs become words of their own", () => {
    const encoding = bert.encode("我想在apple工作", { addSpecialTokens: false });
    assert.deepEqual(encoding.tokens, ["我", "[UNK]", "[UNK]", "apple", "[UNK]", "[UNK]"]);
    assert.deepEqual(encoding.offsets, [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 8],
      [8, 9],
      [9, 10],
    ]);
  });

  test("## continuation pieces, [UNK] for unknown and over-long words, control characters dropped", () => {
    assert.deepEqual(bert.encode("unaffable", { addSpecialTokens: false }).tokens, ["una", "##ffa", "##ble"]);
    assert.deepEqual(bert.encode("🦙 x", { addSpecialTokens: false }).tokens, ["[UNK]", "x"]);
    const long = "a".repeat(101);
    assert.deepEqual(bert.encode(`${long} b`, { addSpecialTokens: false }).tokens, ["[UNK]", "b"]);
    assert.notDeepEqual(bert.encode("a".repeat(100), { addSpecialTokens: false }).tokens, ["[UNK]"]);
    assert.deepEqual(bert.encode("he\u0000l\u200blo\u0007", { addSpecialTokens: false }).tokens, ["hello"]);
    assert.deepEqual(bert.encode("tab\tnew\nline\u00a0space\u3000end", { addSpecialTokens: false }).tokens, [
      "tab",
      "new",
      "line",
      "space",
      "end",
    ]);
  });

  test("offsets point at the original characters, accents and case included", () => {
    const text = "  Héllo, WÖRLD! unaffable";
    const encoding = bert.encode(text);
    const pieces = encoding.offsets.map(([s, e]) => text.slice(s, e));
    assert.deepEqual(pieces, ["", "Héllo", ",", "WÖRLD", "!", "una", "ffa", "ble", ""]);
  });

  test("decode joins ## pieces and cleans up spaces before punctuation", () => {
    const ids = bert.encode("Hello, world! I don't know unaffable things.").ids;
    assert.equal(
      bert.decode(ids, { skipSpecialTokens: true }),
      "hello, world! i don't know unaffable things.",
    );
    assert.equal(bert.decode(ids), "[CLS] hello, world! i don't know unaffable things. [SEP]");
    assert.equal(
      bert.decode(ids, { skipSpecialTokens: true, cleanUpTokenizationSpaces: false }),
      "hello , world ! i don ' t know unaffable things .",
    );
  });

  test("a cased WordPiece keeps case and accents", () => {
    const model = new WordPieceModel({
      vocab: ["[UNK]", "Héllo", "W", "##ö", "##rld"],
      unkToken: "[UNK]",
      normalizer: { cleanText: true, handleChineseChars: true, lowercase: false },
    });
    assert.deepEqual(
      model.tokenize("Héllo Wörld", 0, 11).map((p) => p.token),
      ["Héllo", "W", "##ö", "##rld"],
    );
  });

  test("a vocabulary without its unknown token is rejected", () => {
    assert.throws(() => new WordPieceModel({ vocab: ["a", "b"], unkToken: "[UNK]" }), {
      name: "TokenizerError",
      code: "TOKENIZER_BAD_FILE",
    });
  });
});
