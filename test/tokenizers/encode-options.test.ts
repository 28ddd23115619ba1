import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { tokenizerFromGguf } from "../../src/tokenizers/gguf-tokenizer.js";
import { readVocabJsonAndMerges, readVocabTxt } from "../../src/tokenizers/vocab-files.js";
import { BERT_VOCAB, GPT2_ENCODER, GPT2_MERGES, VOCAB_DIR } from "./vectors.js";

const bert = readVocabTxt(BERT_VOCAB);

describe("pair encoding", () => {
  test("BERT: [CLS] A [SEP] B [SEP] with token type ids 0 then 1", () => {
    const encoding = bert.encode("What is it?", { pair: "It is a cat." });
    assert.deepEqual(encoding.tokens, [
      "[CLS]",
      "what",
      "is",
      "it",
      "?",
      "[SEP]",
      "it",
      "is",
      "a",
      "cat",
      ".",
      "[SEP]",
    ]);
    assert.deepEqual(encoding.typeIds, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(encoding.sequenceIds, [null, 0, 0, 0, 0, null, 1, 1, 1, 1, 1, null]);
    assert.deepEqual(encoding.specialTokensMask, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    assert.deepEqual(encoding.attentionMask, new Array(12).fill(1));
  });

  test("offsets of the second sequence index the second text (extractive QA)", () => {
    const question = "Where is the Eiffel Tower?";
    const context = "The Eiffel Tower is in Paris, the capital of France.";
    const encoding = bert.encode(question, { pair: context });
    const answerStart = context.indexOf("Paris");
    const tokenIndex = encoding.offsets.findIndex(
      ([start], i) => encoding.sequenceIds[i] === 1 && start === answerStart,
    );
    assert.equal(encoding.tokens[tokenIndex], "paris");
    const [start, end] = encoding.offsets[tokenIndex];
    assert.equal(context.slice(start, end), "Paris");
    // Every non-special token maps back to its source text (case and ## aside).
    encoding.tokens.forEach((token, i) => {
      const sequence = encoding.sequenceIds[i];
      if (sequence === null) return;
      const source = (sequence === 0 ? question : context).slice(...encoding.offsets[i]);
      assert.equal(source.toLowerCase(), token.replace(/^##/, ""));
    });
  });

  test("Llama: <s> A <s> B, and GPT-2: A B without specials", () => {
    const llama = tokenizerFromGguf(join(VOCAB_DIR, "ggml-vocab-llama-spm.gguf"));
    const encoding = llama.encode("Hello", { pair: "world" });
    assert.deepEqual(encoding.tokens, ["<s>", "▁Hello", "<s>", "▁world"]);
    assert.deepEqual(encoding.typeIds, [0, 0, 1, 1]);
    const gpt2 = readVocabJsonAndMerges(GPT2_ENCODER, GPT2_MERGES);
    assert.deepEqual(gpt2.encode("Hello", { pair: " world" }).ids, [15496, 995]);
  });
});

describe("truncation", () => {
  const long = "one two three four five six seven eight nine ten"; // 10 tokens
  const short = "a b c d"; // 4 tokens

  test("longest_first trims the longer sequence first, the second on ties", () => {
    const encoding = bert.encode(long, { pair: short, maxLength: 12, truncation: true });
    assert.equal(encoding.ids.length, 12);
    assert.deepEqual(encoding.tokens, [
      "[CLS]",
      "one",
      "two",
      "three",
      "four",
      "five",
      "[SEP]",
      "a",
      "b",
      "c",
      "d",
      "[SEP]",
    ]);
    const tie = bert.encode("a b c d e f", {
      pair: "g h i j k l",
      maxLength: 12,
      truncation: "longest_first",
    });
    assert.deepEqual(tie.tokens, ["[CLS]", "a", "b", "c", "d", "e", "[SEP]", "g", "h", "i", "j", "[SEP]"]);
  });

  test("only_second and only_first trim one sequence, and say so when that cannot fit", () => {
    const second = bert.encode(short, { pair: long, maxLength: 10, truncation: "only_second" });
    assert.deepEqual(second.tokens, ["[CLS]", "a", "b", "c", "d", "[SEP]", "one", "two", "three", "[SEP]"]);
    assert.throws(() => bert.encode(long, { pair: short, maxLength: 10, truncation: "only_second" }), {
      name: "TokenizerError",
      code: "TOKENIZER_BAD_REQUEST",
    });
    const first = bert.encode(long, { pair: short, maxLength: 10, truncation: "only_first" });
    assert.deepEqual(first.tokens, ["[CLS]", "one", "two", "three", "[SEP]", "a", "b", "c", "d", "[SEP]"]);
  });

  test("single sequences, left truncation, and no specials", () => {
    assert.deepEqual(bert.encode(long, { maxLength: 5, truncation: true }).tokens, [
      "[CLS]",
      "one",
      "two",
      "three",
      "[SEP]",
    ]);
    assert.deepEqual(bert.encode(long, { maxLength: 5, truncation: true, truncationSide: "left" }).tokens, [
      "[CLS]",
      "eight",
      "nine",
      "ten",
      "[SEP]",
    ]);
    assert.deepEqual(bert.encode(long, { maxLength: 3, truncation: true, addSpecialTokens: false }).tokens, [
      "one",
      "two",
      "three",
    ]);
    assert.equal(
      bert.encode(long, { maxLength: 5 }).ids.length,
      12,
      "no truncation unless asked, as transformers",
    );
    assert.throws(() => bert.encode(long, { maxLength: 1, truncation: true }), {
      code: "TOKENIZER_BAD_REQUEST",
    });
  });
});

describe("overflowing windows for long contexts (extractive QA)", () => {
  const question = "Who wrote it?";
  const context = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ");

  test("only_second with a stride: the question in every window, windows overlapping by the stride", () => {
    const contextIds = bert.encode(context, { addSpecialTokens: false }).ids;
    const main = bert.encode(question, {
      pair: context,
      maxLength: 32,
      truncation: "only_second",
      returnOverflowing: true,
      stride: 5,
      padding: "max_length",
    });
    const windows = [main, ...(main.overflowing ?? [])];
    assert.ok(windows.length >= 3);
    const questionIds = bert.encode(question, { addSpecialTokens: false }).ids;
    let expectedStart = 0;
    windows.forEach((w, k) => {
      assert.equal(w.ids.length, 32, "every window is padded");
      assert.deepEqual(w.ids.slice(1, 1 + questionIds.length), questionIds);
      const contextPart = w.ids.filter((_, i) => w.sequenceIds[i] === 1);
      assert.deepEqual(
        contextPart,
        contextIds.slice(expectedStart, expectedStart + contextPart.length),
        `window ${k}`,
      );
      // Context offsets still index the context.
      w.offsets.forEach(([s, e], i) => {
        if (w.sequenceIds[i] === 1) assert.match(context.slice(s, e), /^(word|\d+)/);
      });
      if (k + 1 < windows.length) expectedStart += contextPart.length - 5;
      else
        assert.equal(
          expectedStart + contextPart.length,
          contextIds.length,
          "the last window reaches the end",
        );
    });
    assert.equal(main.overflowing?.[0].overflowing, undefined);
  });

  test("single sequences window too; windowing both sequences of a pair is refused", () => {
    const single = bert.encode(context, { maxLength: 50, truncation: true, returnOverflowing: true });
    const total = [single, ...(single.overflowing ?? [])].reduce((n, e) => n + e.ids.length - 2, 0);
    assert.equal(total, bert.encode(context, { addSpecialTokens: false }).ids.length);
    assert.throws(
      () => bert.encode(context, { pair: context, maxLength: 50, truncation: true, returnOverflowing: true }),
      { code: "TOKENIZER_BAD_REQUEST", message: /only_second/ },
    );
    assert.throws(
      () => bert.encode(context, { maxLength: 10, truncation: true, returnOverflowing: true, stride: 8 }),
      { code: "TOKENIZER_BAD_REQUEST", message: /stride/ },
    );
  });
});

describe("padding", () => {
  test("max_length pads right (default) or left with [PAD], mask 0 and type id 0", () => {
    const right = bert.encode("hello world", { maxLength: 6, padding: "max_length" });
    assert.deepEqual(right.ids, [101, 7592, 2088, 102, 0, 0]);
    assert.deepEqual(right.attentionMask, [1, 1, 1, 1, 0, 0]);
    assert.deepEqual(right.typeIds, [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(right.specialTokensMask, [1, 0, 0, 1, 1, 1]);
    assert.deepEqual(right.offsets.slice(4), [
      [0, 0],
      [0, 0],
    ]);
    const left = bert.encode("hello world", { maxLength: 6, padding: "max_length", paddingSide: "left" });
    assert.deepEqual(left.ids, [0, 0, 101, 7592, 2088, 102]);
    assert.deepEqual(left.attentionMask, [0, 0, 1, 1, 1, 1]);
    assert.deepEqual(left.tokens.slice(0, 2), ["[PAD]", "[PAD]"]);
  });

  test("encodeBatch pads to the longest, optionally to a multiple, and truncates together", () => {
    const batch = bert.encodeBatch(["hello", "hello world again", ["hi", "there"]], { padding: true });
    assert.deepEqual(
      batch.map((e) => e.ids.length),
      [5, 5, 5],
    );
    assert.deepEqual(batch[0].attentionMask, [1, 1, 1, 0, 0]);
    assert.deepEqual(batch[2].typeIds, [0, 0, 0, 1, 1]);
    const multiple = bert.encodeBatch(["hello", "hello world again"], {
      padding: "longest",
      padToMultipleOf: 8,
    });
    assert.deepEqual(
      multiple.map((e) => e.ids.length),
      [8, 8],
    );
    const capped = bert.encodeBatch(["a b c d e f g h", "a"], {
      padding: "max_length",
      maxLength: 6,
      truncation: true,
    });
    assert.deepEqual(
      capped.map((e) => e.ids),
      [
        [101, 1037, 1038, 1039, 1040, 102],
        [101, 1037, 102, 0, 0, 0],
      ],
    );
  });

  test("padding without a pad token or without maxLength is a typed error", () => {
    const gpt2 = readVocabJsonAndMerges(GPT2_ENCODER, GPT2_MERGES);
    assert.equal(gpt2.padTokenId, undefined);
    assert.throws(() => gpt2.encodeBatch(["a", "a b c"], { padding: true }), {
      name: "TokenizerError",
      code: "TOKENIZER_BAD_REQUEST",
      message: /no pad token/,
    });
    assert.throws(() => bert.encode("a", { padding: "max_length" }), { code: "TOKENIZER_BAD_REQUEST" });
  });
});

describe("decode", () => {
  test("skipSpecialTokens drops template specials and padding", () => {
    const encoding = bert.encode("hello world", { maxLength: 8, padding: "max_length" });
    assert.equal(bert.decode(encoding.ids, { skipSpecialTokens: true }), "hello world");
    assert.equal(bert.decode(encoding.ids), "[CLS] hello world [SEP] [PAD] [PAD] [PAD] [PAD]");
  });

  test("unknown ids are a typed error", () => {
    assert.throws(() => bert.decode([999999]), { name: "TokenizerError", code: "TOKENIZER_BAD_REQUEST" });
  });
});
