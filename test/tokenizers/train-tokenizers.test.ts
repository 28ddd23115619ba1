import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { loadEnglishCorpus } from "../../src/tasks/english-corpus.js";
import { learnBpeMerges } from "../../src/tokenizers/bpe-trainer.js";
import { TokenizerError } from "../../src/tokenizers/errors.js";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import type { PretrainedTokenizer } from "../../src/tokenizers/tokenizer.js";
import {
  type TokenizerJsonObject,
  tokenizerJsonText,
  writeTokenizerFolder,
} from "../../src/tokenizers/tokenizer-files.js";
import { tokenizerFromJson } from "../../src/tokenizers/tokenizer-json.js";
import { byteLevelWordCounts, trainByteLevelBpe } from "../../src/tokenizers/train-byte-level-bpe.js";
import { bertWordCounts, trainWordPiece } from "../../src/tokenizers/train-wordpiece.js";
import { BYTE_TO_CHAR } from "../../src/tokenizers/unicode.js";
import { makeTempDir } from "../io/temp-dir.js";

const corpus = loadEnglishCorpus();
const moby = corpus.filter((d) => d.source === "moby-dick").map((d) => d.text);
/** About 200 KB: the first 20 chapters of Moby-Dick. */
const slice = moby.slice(0, 20);
const tmp = makeTempDir("train-tokenizers");

/** Round-trips through JSON text, as a file would. */
const load = (json: TokenizerJsonObject): PretrainedTokenizer =>
  tokenizerFromJson(JSON.parse(tokenizerJsonText(json)));

const tokensPerCharacter = (tokenizer: PretrainedTokenizer, texts: readonly string[]): number => {
  let tokens = 0;
  let chars = 0;
  for (const text of texts) {
    tokens += tokenizer.encode(text, { addSpecialTokens: false }).ids.length;
    chars += text.length;
  }
  return tokens / chars;
};

/**
 * The definition the incremental trainer must agree with: recount every pair of every word before each merge,
 * take the most frequent (ties: the smaller (left id, right id)), merge it left to right in every word.
 */
function bruteForceMerges(
  wordCounts: Map<string, number>,
  options: {
    vocabSize: number;
    minFrequency: number;
    specials: string[];
    alphabet?: string[];
    prefix?: string;
  },
): [string, string][] {
  const byCodePoint = (a: string, b: string) => a.codePointAt(0)! - b.codePointAt(0)!;
  const tokens: string[] = [];
  const ids = new Map<string, number>();
  const add = (t: string) => {
    if (!ids.has(t)) {
      ids.set(t, tokens.length);
      tokens.push(t);
    }
    return ids.get(t)!;
  };
  options.specials.forEach(add);
  const chars = new Set(options.alphabet ?? []);
  for (const word of wordCounts.keys()) for (const ch of word) chars.add(ch);
  [...chars].sort(byCodePoint).forEach(add);
  if (options.prefix !== undefined) {
    const inner = new Set<string>();
    for (const word of wordCounts.keys()) for (const ch of Array.from(word).slice(1)) inner.add(ch);
    for (const ch of [...inner].sort(byCodePoint)) add(options.prefix + ch);
  }
  const words = [...wordCounts].map(([word, count]) => ({
    symbols: Array.from(word).map(
      (ch, i) => ids.get(i > 0 && options.prefix !== undefined ? options.prefix + ch : ch)!,
    ),
    count,
  }));
  const merges: [string, string][] = [];
  while (tokens.length < options.vocabSize) {
    const counts = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]},${symbols[i + 1]}`;
        counts.set(key, (counts.get(key) ?? 0) + count);
      }
    }
    let best: [number, number] | undefined;
    let bestCount = 0;
    for (const [key, count] of counts) {
      const [a, b] = key.split(",").map(Number);
      if (
        count > bestCount ||
        (count === bestCount && best && (a < best[0] || (a === best[0] && b < best[1])))
      ) {
        best = [a, b];
        bestCount = count;
      }
    }
    if (best === undefined || bestCount < Math.max(1, options.minFrequency)) break;
    const [a, b] = best;
    const right = tokens[b];
    const merged = add(
      tokens[a] +
        (options.prefix && right.startsWith(options.prefix) ? right.slice(options.prefix.length) : right),
    );
    merges.push([tokens[a], right]);
    for (const word of words) {
      const out: number[] = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (word.symbols[i] === a && word.symbols[i + 1] === b) {
          out.push(merged);
          i++;
        } else out.push(word.symbols[i]);
      }
      word.symbols = out;
    }
  }
  return merges;
}

describe("learnBpeMerges", () => {
  test("Hugging Face BpeTrainer's own test case: the same ids and merges (re, are, is)", () => {
    const words = new Map(
      Object.entries({
        roses: 1,
        are: 2,
        red: 1,
        voilets: 1,
        blue: 1,
        BERT: 1,
        is: 2,
        big: 1,
        and: 1,
        so: 1,
        "GPT-2": 1,
      }),
    );
    const learned = learnBpeMerges(words, { vocabSize: 30000, minFrequency: 2 });
    assert.deepEqual(learned.vocab, [..."-2BEGPRTabdegilnorstuv".split(""), "re", "are", "is"]);
    // "r e" occurs 3 times; then "a re" and "i s" both twice: (a, re) = (8, 22) sorts before (i, s) = (13, 18).
    assert.deepEqual(learned.merges, [
      ["r", "e"],
      ["a", "re"],
      ["i", "s"],
    ]);
  });

  test("agrees with the brute-force definition on real text (byte-level and ## WordPiece symbols)", () => {
    const text = moby.slice(0, 2);
    const byteWords = byteLevelWordCounts(text);
    const byteOptions = {
      vocabSize: 257 + 250,
      minFrequency: 2,
      specials: ["<|endoftext|>"],
      alphabet: [...BYTE_TO_CHAR],
    };
    assert.deepEqual(
      learnBpeMerges(byteWords, {
        ...byteOptions,
        specialTokens: byteOptions.specials,
        initialAlphabet: BYTE_TO_CHAR,
      }).merges,
      bruteForceMerges(byteWords, byteOptions),
    );
    const bertWords = bertWordCounts(text);
    const wordPieceOptions = { vocabSize: 400, minFrequency: 2, specials: ["[UNK]"], prefix: "##" };
    const learned = learnBpeMerges(bertWords, {
      ...wordPieceOptions,
      specialTokens: wordPieceOptions.specials,
      continuingSubwordPrefix: "##",
    });
    assert.equal(learned.vocab.length, 400);
    assert.deepEqual(learned.merges, bruteForceMerges(bertWords, wordPieceOptions));
  });

  test("progress reports count up to the merges learned", () => {
    const seen: number[] = [];
    const learned = learnBpeMerges(byteLevelWordCounts(slice), {
      vocabSize: 1000,
      initialAlphabet: BYTE_TO_CHAR,
      onProgress: ({ merges, target }) => {
        assert.equal(target, 1000 - 256);
        seen.push(merges);
      },
    });
    assert.equal(seen[seen.length - 1], learned.merges.length);
    assert.deepEqual(
      seen,
      [...seen].sort((a, b) => a - b),
    );
  });
});

describe("trainByteLevelBpe", () => {
  test("first merges on a hand-made corpus", () => {
    // GPT-2's split gives the words hug, Ġhug ×2, Ġpug, Ġpun, Ġbun, Ġhugs. Pair counts: u g 5, h u 4, Ġ h 3,
    // Ġ p 2, p u 2, u n 2, the rest 1.
    //   1. "u g" (5); now "h ug" occurs 4 times, "Ġ h" 3
    //   2. "h ug" (4); now "Ġ hug" occurs 3 times
    //   3. "Ġ hug" (3)
    //   4. "u n" (2) and "Ġ p" (2) tie: ids follow code points, u (U+0075) < Ġ (U+0120), so "u n" first
    //   5. "Ġ p" (2); every other pair occurs once, below the default minimum frequency 2.
    const json = trainByteLevelBpe(["hug hug hug pug pun bun hugs"], { vocabSize: 1000 });
    assert.deepEqual(json.model.merges, ["u g", "h ug", "Ġ hug", "u n", "Ġ p"]);
    assert.equal(Object.keys(json.model.vocab).length, 1 + 256 + 5);
    assert.equal(json.model.vocab["<|endoftext|>"], 0);
    assert.equal(json.model.vocab["!"], 1);
    assert.equal(json.model.vocab.ug, 257);
    assert.equal(json.model.vocab.Ġp, 261);
    const tokenizer = load(json);
    assert.deepEqual(tokenizer.encode("hugs pun").tokens, ["hug", "s", "Ġp", "un"]);
  });

  test("the tokenizer.json has the schema the tokenizers library writes and our loader reads", () => {
    const json = trainByteLevelBpe(slice, { vocabSize: 600 });
    assert.equal(json.version, "1.0");
    assert.deepEqual(json.added_tokens, [
      {
        id: 0,
        content: "<|endoftext|>",
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ]);
    assert.deepEqual(json.pre_tokenizer, {
      type: "ByteLevel",
      add_prefix_space: false,
      trim_offsets: true,
      use_regex: true,
    });
    assert.equal(json.decoder?.type, "ByteLevel");
    assert.equal(json.post_processor?.type, "ByteLevel");
    assert.equal(json.model.type, "BPE");
    const merges = json.model.merges as string[];
    assert.equal(merges.length, 600 - 257);
    for (const merge of merges) assert.match(merge, /^\S+ \S+$/);
    // Ids are 0..n-1 with the 256 byte characters right after the special token.
    const ids = Object.values(json.model.vocab).sort((a, b) => a - b);
    assert.deepEqual(
      ids,
      ids.map((_, i) => i),
    );
    for (const ch of BYTE_TO_CHAR) assert.ok(json.model.vocab[ch] >= 1 && json.model.vocab[ch] <= 256);
    const text = tokenizerJsonText(json);
    assert.ok(text.includes('\n      "!": 1,\n      "\\"": 2,'), "vocab in id order");
    assert.deepEqual(JSON.parse(text).model.vocab, { ...json.model.vocab });
  });

  test("reaches the requested vocabulary size on a corpus slice", () => {
    for (const vocabSize of [300, 2048]) {
      const json = trainByteLevelBpe(slice, { vocabSize });
      assert.equal(Object.keys(json.model.vocab).length, vocabSize);
      assert.equal(load(json).vocabSize, vocabSize);
    }
  });

  test("decode(encode(x)) == x on arbitrary text: unicode, emoji, controls, the special token", () => {
    const tokenizer = load(trainByteLevelBpe(slice, { vocabSize: 1000 }));
    const samples = [
      "Call me Ishmael. Some years ago—never mind how long precisely—",
      "  leading and trailing spaces \n\n\ttabs\r\nCRLF  ",
      "naïve café, Ærøskøbing, Łódź, İstanbul, ß",
      "日本語のテキスト, 中文, 한국어, ελληνικά, русский, עברית, العربية",
      "emoji 🐋🐳 family 👨‍👩‍👧‍👦 flags 🇳🇴 skin 👍🏽, variation ❤️",
      "combining e\u0301 a\u0308 and zero-width \u200b\u200d joiners; NUL \u0000 and DEL \u007f",
      "numbers 1,234,567.89 and 3.14159e-10; code: x => { return a[i] ?? b; }",
      "end<|endoftext|>next document",
      "",
    ];
    for (const text of samples) {
      const encoding = tokenizer.encode(text, { addSpecialTokens: false });
      assert.equal(tokenizer.decode(encoding.ids), text, JSON.stringify(text));
    }
    const special = tokenizer.encode("a<|endoftext|>b", { addSpecialTokens: false });
    assert.ok(special.ids.includes(0));
    assert.equal(special.tokens.filter((t) => t === "<|endoftext|>").length, 1);
    // Characters the training text never had still encode, as their four UTF-8 bytes (F0 9F 90 8B).
    assert.deepEqual(
      tokenizer.encode("🐋").tokens,
      [0xf0, 0x9f, 0x90, 0x8b].map((b) => BYTE_TO_CHAR[b]),
    );
  });

  test("the saved folder loads through loadTokenizer and encodes as the in-memory tokenizer", () => {
    const json = trainByteLevelBpe(slice, { vocabSize: 1500 });
    const dir = join(tmp, "bpe");
    writeTokenizerFolder(dir, json, { modelMaxLength: 1024, kind: "bpe" });
    const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
    assert.equal(config.tokenizer_class, "GPT2Tokenizer");
    assert.equal(config.model_max_length, 1024);
    assert.equal(config.bos_token, "<|endoftext|>");
    assert.equal(config.eos_token, "<|endoftext|>");
    assert.equal(config.unk_token, "<|endoftext|>");
    assert.equal(config.pad_token, undefined);
    assert.deepEqual(Object.keys(config.added_tokens_decoder), ["0"]);
    assert.equal(readFileSync(join(dir, "tokenizer.json"), "utf8"), tokenizerJsonText(json));
    const saved = loadTokenizer(dir);
    const memory = tokenizerFromJson(json);
    assert.equal(saved.vocabSize, 1500);
    assert.equal(saved.modelMaxLength, 1024);
    assert.equal(saved.specialTokens.eos?.id, 0);
    for (const text of [...moby.slice(30, 33), "Whales 🐋 and café<|endoftext|>x"]) {
      const a = saved.encode(text);
      const b = memory.encode(text);
      assert.deepEqual(a.ids, b.ids);
      assert.deepEqual(a.offsets, b.offsets);
      assert.equal(saved.decode(a.ids), text);
    }
  });

  test("deterministic: the same text gives a byte-identical tokenizer.json, whatever the document order", () => {
    const a = tokenizerJsonText(trainByteLevelBpe(slice, { vocabSize: 800 }));
    const b = tokenizerJsonText(trainByteLevelBpe(slice, { vocabSize: 800 }));
    const reversed = tokenizerJsonText(trainByteLevelBpe([...slice].reverse(), { vocabSize: 800 }));
    assert.equal(a, b);
    assert.equal(a, reversed);
  });

  test("compression: a 4096-token BPE gives < 0.35 tokens per character on Moby-Dick", () => {
    const tokenizer = load(trainByteLevelBpe(moby, { vocabSize: 4096 }));
    const ratio = tokensPerCharacter(tokenizer, moby);
    assert.ok(ratio < 0.35, `${ratio} tokens per character`);
    assert.ok(ratio > 0.15, `${ratio} tokens per character is implausibly low`);
  });

  test("custom special tokens take ids 0.. in order; the minimum frequency stops early", () => {
    const json = trainByteLevelBpe(["ab ab cd"], { vocabSize: 400, specialTokens: ["<s>", "</s>", "<pad>"] });
    assert.deepEqual(
      json.added_tokens.map((t) => [t.id, t.content]),
      [
        [0, "<s>"],
        [1, "</s>"],
        [2, "<pad>"],
      ],
    );
    // Words ab, Ġab, Ġcd: only "a b" occurs twice. With minimum frequency 1 the ties go by id: c < Ġ, ab < cd.
    assert.deepEqual(json.model.merges, ["a b"]);
    assert.deepEqual(trainByteLevelBpe(["ab ab cd"], { vocabSize: 400, minFrequency: 1 }).model.merges, [
      "a b",
      "c d",
      "Ġ ab",
      "Ġ cd",
    ]);
  });
});

describe("trainWordPiece", () => {
  const json = trainWordPiece(slice, { vocabSize: 2000 });
  const tokenizer = load(json);

  test("BERT layout: specials 0-4, alphabet, ## pieces; reaches the vocabulary size", () => {
    const vocab = json.model.vocab;
    assert.equal(Object.keys(vocab).length, 2000);
    assert.deepEqual(
      ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map((t) => vocab[t]),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(json.normalizer, {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    });
    assert.deepEqual(json.pre_tokenizer, { type: "BertPreTokenizer" });
    assert.equal(json.model.continuing_subword_prefix, "##");
    assert.equal(json.model.max_input_chars_per_word, 100);
    assert.equal(json.model.unk_token, "[UNK]");
    assert.ok(vocab["##s"] !== undefined && vocab.the !== undefined && vocab["##ing"] !== undefined);
    assert.equal(vocab.A, undefined, "lower-cased: no capitals");
    assert.deepEqual(json.decoder, { type: "WordPiece", prefix: "##", cleanup: true });
  });

  test("lower-cases, strips accents, isolates punctuation; unknown characters become [UNK]", () => {
    const encoding = tokenizer.encode("The WHALE, naïve!", { addSpecialTokens: false });
    assert.equal(encoding.tokens.join(" ").replaceAll(" ##", ""), "the whale , naive !");
    const unknown = tokenizer.encode("whale ☃ 🐋", { addSpecialTokens: false });
    assert.deepEqual(unknown.tokens, ["whale", "[UNK]", "[UNK]"]);
    const text = "call me ishmael, said he.";
    assert.equal(tokenizer.decode(tokenizer.encode(text).ids, { skipSpecialTokens: true }), text);
  });

  test("single and pair templates: [CLS] A [SEP] B [SEP] with token type ids", () => {
    const single = tokenizer.encode("call me ishmael");
    assert.equal(single.tokens[0], "[CLS]");
    assert.equal(single.tokens[single.tokens.length - 1], "[SEP]");
    assert.ok(single.typeIds.every((t) => t === 0));
    const pair = tokenizer.encode("call me", { pair: "ishmael" });
    const a = tokenizer.encode("call me", { addSpecialTokens: false }).ids.length;
    const b = tokenizer.encode("ishmael", { addSpecialTokens: false }).ids.length;
    assert.deepEqual(pair.typeIds, [...Array(a + 2).fill(0), ...Array(b + 1).fill(1)]);
    assert.deepEqual(
      pair.ids.filter((id) => id === 2 || id === 3),
      [2, 3, 3],
    );
  });

  test("the saved folder loads through loadTokenizer and encodes identically; config names the specials", () => {
    const dir = join(tmp, "wordpiece");
    writeTokenizerFolder(dir, json, { modelMaxLength: 512 });
    const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
    assert.equal(config.tokenizer_class, "BertTokenizer");
    assert.equal(config.do_lower_case, true);
    assert.deepEqual(
      [config.unk_token, config.sep_token, config.pad_token, config.cls_token, config.mask_token],
      ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"],
    );
    const saved = loadTokenizer(dir);
    assert.equal(saved.modelMaxLength, 512);
    assert.equal(saved.specialTokens.mask?.id, 4);
    assert.equal(saved.specialTokens.pad?.id, 0);
    for (const text of moby.slice(30, 33)) {
      const x = saved.encode(text, { pair: "Call me Ishmael." });
      const y = tokenizer.encode(text, { pair: "Call me Ishmael." });
      assert.deepEqual(x.ids, y.ids);
      assert.deepEqual(x.typeIds, y.typeIds);
      assert.deepEqual(x.offsets, y.offsets);
    }
  });

  test("deterministic, cased option, and the special tokens it needs", () => {
    assert.equal(
      tokenizerJsonText(trainWordPiece(slice, { vocabSize: 700 })),
      tokenizerJsonText(trainWordPiece(slice, { vocabSize: 700 })),
    );
    const cased = trainWordPiece(slice, { vocabSize: 700, lowercase: false });
    assert.equal(cased.normalizer?.lowercase, false);
    assert.ok(cased.model.vocab.I !== undefined);
    assert.deepEqual(
      load(cased).encode("Ishmael", { addSpecialTokens: false }).tokens.join("").replaceAll("##", ""),
      "Ishmael",
    );
    assert.throws(
      () => trainWordPiece(slice, { vocabSize: 700, specialTokens: ["[PAD]", "[UNK]"] }),
      (error: unknown) => error instanceof TokenizerError && error.message.includes("[CLS]"),
    );
  });

  test("compression: a 4096-token WordPiece gives < 0.35 tokens per character on Moby-Dick", () => {
    const big = load(trainWordPiece(moby, { vocabSize: 4096 }));
    const ratio = tokensPerCharacter(big, moby);
    assert.ok(ratio < 0.35 && ratio > 0.15, `${ratio} tokens per character`);
  });
});

describe("writeTokenizerFolder", () => {
  test("rejects a kind that does not match the model and a bad max length", () => {
    const json = trainByteLevelBpe(["ab ab"], { vocabSize: 300 });
    assert.throws(
      () => writeTokenizerFolder(join(tmp, "bad"), json, { modelMaxLength: 128, kind: "wordpiece" }),
      (error: unknown) => error instanceof TokenizerError && error.code === "TOKENIZER_BAD_REQUEST",
    );
    assert.throws(
      () => writeTokenizerFolder(join(tmp, "bad"), json, { modelMaxLength: 0 }),
      (error: unknown) => error instanceof TokenizerError && error.code === "TOKENIZER_BAD_REQUEST",
    );
    assert.throws(
      () =>
        writeTokenizerFolder(join(tmp, "bad"), json, { modelMaxLength: 8, specialTokens: { pad: "<pad>" } }),
      (error: unknown) => error instanceof TokenizerError && error.message.includes("<pad>"),
    );
  });
});
