import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { AdaptlmError } from "../../src/errors.js";
import { type GgufFile, GgufValueType, parseGguf } from "../../src/io/gguf.js";
import { tokenizerFromGguf } from "../../src/tokenizers/gguf-tokenizer.js";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { BERT_VOCAB, GPT2_ENCODER, GPT2_MERGES, STORIES, TINY_GPT2, VOCAB_DIR } from "./vectors.js";

const root = mkdtempSync(join(tmpdir(), "adaptlm-tokenizers-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** A fresh folder under the temp root holding the given files (copied from paths or written as text). */
function folder(files: Record<string, { copy: string } | { text: string }>): string {
  const made = mkdtempSync(join(root, "case-"));
  for (const [name, source] of Object.entries(files)) {
    if ("copy" in source) copyFileSync(source.copy, join(made, name));
    else writeFileSync(join(made, name), source.text);
  }
  return made;
}

const BERT_JSON = () => {
  const lines = readFileSync(BERT_VOCAB, "utf8").split("\n");
  lines.pop();
  return JSON.stringify({
    added_tokens: [],
    normalizer: { type: "BertNormalizer", lowercase: false, strip_accents: false },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: { type: "BertProcessing", sep: ["[SEP]", 102], cls: ["[CLS]", 101] },
    model: { type: "WordPiece", unk_token: "[UNK]", vocab: Object.fromEntries(lines.map((t, i) => [t, i])) },
  });
};

describe("loadTokenizer picks the richest format in a folder", () => {
  test("tokenizer.json wins over vocab.txt", () => {
    // The tokenizer.json here does not lower-case; vocab.txt (BERT uncased) would.
    const dir = folder({ "tokenizer.json": { text: BERT_JSON() }, "vocab.txt": { copy: BERT_VOCAB } });
    assert.deepEqual(loadTokenizer(dir).encode("Hello").tokens, ["[CLS]", "[UNK]", "[SEP]"]);
    const onlyTxt = folder({ "vocab.txt": { copy: BERT_VOCAB } });
    assert.deepEqual(loadTokenizer(onlyTxt).encode("Hello").tokens, ["[CLS]", "hello", "[SEP]"]);
  });

  test("vocab.json + merges.txt wins over vocab.txt and tokenizer.bin", () => {
    const dir = folder({
      "vocab.json": { copy: GPT2_ENCODER },
      "merges.txt": { copy: GPT2_MERGES },
      "vocab.txt": { copy: BERT_VOCAB },
      "tokenizer.bin": { copy: join(STORIES, "tok512.bin") },
    });
    const tokenizer = loadTokenizer(dir);
    assert.equal(tokenizer.kind, "byte-level-bpe");
    assert.deepEqual(tokenizer.encode("Hello world").ids, [15496, 995]);
  });

  test("tokenizer.bin when nothing else is there; its vocabulary size can be checked", () => {
    const dir = folder({ "tokenizer.bin": { copy: join(STORIES, "tok512.bin") } });
    const tokenizer = loadTokenizer(dir, { vocabSize: 512 });
    assert.equal(tokenizer.kind, "sentencepiece-bpe");
    assert.equal(tokenizer.vocabSize, 512);
    assert.throws(
      () => loadTokenizer(dir, { vocabSize: 500 }),
      (e: unknown) => e instanceof AdaptlmError,
    );
  });

  test("single files: .gguf, tokenizer .bin, vocab.txt", () => {
    assert.equal(loadTokenizer(join(VOCAB_DIR, "ggml-vocab-bert-bge.gguf")).kind, "wordpiece");
    assert.equal(loadTokenizer(join(STORIES, "tok512.bin")).vocabSize, 512);
    assert.equal(loadTokenizer(BERT_VOCAB).vocabSize, 30522);
  });

  test("the tiny GPT-2 folder saved by transformers", () => {
    const tokenizer = loadTokenizer(TINY_GPT2);
    assert.equal(tokenizer.kind, "byte-level-bpe");
    assert.equal(tokenizer.eosTokenId, 20);
  });
});

describe("tokenizer_config.json and special_tokens_map.json", () => {
  test("do_lower_case, custom special tokens and added tokens are honoured", () => {
    const dir = folder({
      "vocab.txt": { copy: BERT_VOCAB },
      "tokenizer_config.json": {
        text: JSON.stringify({
          do_lower_case: false,
          model_max_length: 512,
          added_tokens_decoder: {
            "1": { content: "<ent>", special: false, lstrip: false, rstrip: false, single_word: false },
          },
        }),
      },
      "special_tokens_map.json": {
        text: JSON.stringify({ mask_token: { content: "[unused5]", lstrip: false }, pad_token: "[PAD]" }),
      },
    });
    const tokenizer = loadTokenizer(dir);
    assert.equal(tokenizer.modelMaxLength, 512);
    assert.equal(tokenizer.maskTokenId, 6);
    const encoding = tokenizer.encode("Hello <ent>x[unused5]", { addSpecialTokens: false });
    assert.deepEqual(encoding.tokens, ["[UNK]", "<ent>", "x", "[unused5]"]);
    assert.deepEqual(encoding.ids, [100, 1, 1060, 6]);
    // [UNK] is a special token, so skipSpecialTokens drops it as transformers does.
    assert.equal(tokenizer.decode(encoding.ids, { skipSpecialTokens: true }), "<ent> x");
  });

  test("add_bos_token on a GPT-2 folder adds BOS", () => {
    const dir = folder({
      "vocab.json": { copy: GPT2_ENCODER },
      "merges.txt": { copy: GPT2_MERGES },
      "tokenizer_config.json": { text: JSON.stringify({ add_bos_token: true, bos_token: "<|endoftext|>" }) },
    });
    assert.deepEqual(loadTokenizer(dir).encode("Hello world").ids, [50256, 15496, 995]);
  });
});

describe("loadTokenizer errors are typed and say what to do", () => {
  test("missing path, empty folder, SentencePiece protobuf only", () => {
    assert.throws(() => loadTokenizer(join(root, "nope")), {
      name: "TokenizerError",
      code: "TOKENIZER_NOT_FOUND",
    });
    assert.throws(() => loadTokenizer(folder({})), {
      code: "TOKENIZER_NOT_FOUND",
      message: /tokenizer\.json/,
    });
    assert.throws(() => loadTokenizer(folder({ "tokenizer.model": { text: "x" } })), {
      code: "TOKENIZER_NOT_FOUND",
      message: /tokenizer\.model/,
    });
  });

  test("bad JSON in tokenizer.json, tokenizer_config.json or vocab.json", () => {
    const truncated = BERT_JSON().slice(0, 1000);
    assert.throws(() => loadTokenizer(folder({ "tokenizer.json": { text: truncated } })), {
      code: "TOKENIZER_BAD_JSON",
      message: /tokenizer\.json/,
    });
    assert.throws(
      () =>
        loadTokenizer(folder({ "vocab.txt": { copy: BERT_VOCAB }, "tokenizer_config.json": { text: "{" } })),
      { code: "TOKENIZER_BAD_JSON" },
    );
    assert.throws(
      () =>
        loadTokenizer(
          folder({ "vocab.json": { text: '{"a": "b"}' }, "merges.txt": { text: "#version: 0.2\n" } }),
        ),
      { code: "TOKENIZER_BAD_FILE" },
    );
    assert.throws(
      () =>
        loadTokenizer(
          folder({ "vocab.json": { text: '{"a": 0}' }, "merges.txt": { text: "#version: 0.2\nab\n" } }),
        ),
      { code: "TOKENIZER_BAD_FILE", message: /merge 2/ },
    );
  });

  test("truncated GGUF and tokenizer.bin files", () => {
    const gguf = readFileSync(join(VOCAB_DIR, "ggml-vocab-llama-spm.gguf"));
    const bin = readFileSync(join(STORIES, "tok512.bin"));
    const dir = folder({});
    for (const length of [0, 10, 1000, gguf.length >> 1, gguf.length - 1]) {
      writeFileSync(join(dir, "cut.gguf"), gguf.subarray(0, length));
      assert.throws(() => loadTokenizer(join(dir, "cut.gguf")), { name: "GgufError" });
    }
    for (const length of [2, 9, bin.length >> 1, bin.length - 1]) {
      writeFileSync(join(dir, "tokenizer.bin"), bin.subarray(0, length));
      assert.throws(
        () => loadTokenizer(dir, { vocabSize: 512 }),
        (e: unknown) => e instanceof AdaptlmError,
      );
    }
  });

  test("corrupted GGUF vocabularies give a tokenizer or a typed error, never another exception", () => {
    const bytes = readFileSync(join(VOCAB_DIR, "ggml-vocab-llama-spm.gguf"));
    let seed = 2024;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let trial = 0; trial < 40; trial++) {
      const bad = Uint8Array.from(bytes);
      // The header, the key/value table and the start of the token list.
      for (let f = 0; f < 3; f++) bad[Math.floor(random() * 1200)] = Math.floor(random() * 256);
      try {
        tokenizerFromGguf(parseGguf(bad)).encode("Hello world 🦙");
      } catch (error) {
        assert.ok(error instanceof AdaptlmError, `trial ${trial}: ${String(error)}`);
      }
    }
  });

  test("a GGUF vocabulary of an unsupported kind", () => {
    const metadata = new Map([
      ["tokenizer.ggml.model", { type: GgufValueType.STRING, value: "t5" }],
      [
        "tokenizer.ggml.tokens",
        {
          type: GgufValueType.ARRAY,
          value: { kind: "array" as const, elementType: GgufValueType.STRING, values: ["a"] },
        },
      ],
    ]);
    const file: GgufFile = { version: 3, metadata, tensors: [], alignment: 32, dataOffset: 0, fileSize: 0 };
    assert.throws(() => tokenizerFromGguf(file), { code: "TOKENIZER_UNSUPPORTED", message: /"t5"/ });
    const noTokens: GgufFile = { ...file, metadata: new Map([...metadata].slice(0, 1)) };
    assert.throws(() => tokenizerFromGguf(noTokens), { name: "GgufError", code: "GGUF_MISSING_KEY" });
  });
});
