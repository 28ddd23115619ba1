import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  LLAMA2C_MAGIC,
  Llama2cError,
  openLlama2c,
  permuteRopeRows,
  readLlama2cTokenizer,
} from "../../src/io/llama2c.js";
import { greedyLlama2c, ReferenceLlama } from "./reference-llama.js";
import { sharedPath } from "./shared-paths.js";
import { makeTempDir } from "./temp-dir.js";

const temp = makeTempDir("llama2c");
const storiesPath = sharedPath("models/stories260K/stories260K.bin");
const tokenizerPath = sharedPath("models/stories260K/tok512.bin");

function expectCode(fn: () => unknown, code: string, fragment?: RegExp): void {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof Llama2cError, `expected Llama2cError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (fragment) assert.match(error.message, fragment);
    return;
  }
  assert.fail(`expected Llama2cError ${code}`);
}

// A tiny hand-made model: dim 8, hidden 4, 2 layers, 2 heads (head size 4), 1 kv head, vocab 5, seq_len 3.
// Each float of the weight section holds its own index, so every tensor's expected content is known.
const tiny = { dim: 8, hidden: 4, layers: 2, heads: 2, kvHeads: 1, vocab: 5, seqLen: 3 };
const headSize = tiny.dim / tiny.heads;
const kvDim = tiny.kvHeads * headSize;

/** Element counts of the llama2.c legacy sections, in file order. */
function legacySections(shared: boolean): [string, number][] {
  const { dim, hidden, layers, vocab, seqLen } = tiny;
  const sections: [string, number][] = [
    ["tok", vocab * dim],
    ["rms_att", layers * dim],
    ["wq", layers * dim * dim],
    ["wk", layers * kvDim * dim],
    ["wv", layers * kvDim * dim],
    ["wo", layers * dim * dim],
    ["rms_ffn", layers * dim],
    ["w1", layers * hidden * dim],
    ["w2", layers * dim * hidden],
    ["w3", layers * hidden * dim],
    ["rms_final", dim],
    ["freq_real", (seqLen * headSize) / 2],
    ["freq_imag", (seqLen * headSize) / 2],
  ];
  if (!shared) sections.push(["wcls", vocab * dim]);
  return sections;
}

/** v1 order (export.py version1_export): norms first, then embedding and matrices, no freq_cis. */
function v1Sections(shared: boolean): [string, number][] {
  const legacy = new Map(legacySections(shared));
  const order = ["rms_att", "rms_ffn", "rms_final", "tok", "wq", "wk", "wv", "wo", "w1", "w2", "w3"];
  if (!shared) order.push("wcls");
  return order.map((name) => [name, legacy.get(name)!]);
}

/** Writes a checkpoint whose floats are 0, 1, 2, ... in file order; returns the start index of each section. */
function writeTiny(
  name: string,
  format: "legacy" | "v1",
  shared: boolean,
  extraBytes = 0,
): { path: string; start: Map<string, number> } {
  const sections = format === "legacy" ? legacySections(shared) : v1Sections(shared);
  const total = sections.reduce((sum, [, n]) => sum + n, 0);
  const headerBytes = format === "legacy" ? 28 : 256;
  const buffer = Buffer.alloc(headerBytes + total * 4 + extraBytes);
  const ints = [tiny.dim, tiny.hidden, tiny.layers, tiny.heads, tiny.kvHeads, tiny.vocab, tiny.seqLen];
  if (format === "legacy") {
    if (!shared) ints[5] = -tiny.vocab;
    for (const [i, value] of ints.entries()) buffer.writeInt32LE(value, 4 * i);
  } else {
    buffer.writeUInt32LE(LLAMA2C_MAGIC, 0);
    buffer.writeInt32LE(1, 4);
    for (const [i, value] of ints.entries()) buffer.writeInt32LE(value, 8 + 4 * i);
    buffer.writeUInt8(shared ? 1 : 0, 36);
  }
  for (let i = 0; i < total; i++) buffer.writeFloatLE(i, headerBytes + 4 * i);
  const start = new Map<string, number>();
  let at = 0;
  for (const [section, n] of sections) {
    start.set(section, at);
    at += n;
  }
  const path = join(temp, name);
  writeFileSync(path, buffer);
  return { path, start };
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

describe("llama2.c checkpoints: hand-made files with known values", () => {
  for (const format of ["legacy", "v1"] as const) {
    test(`${format}: HF names, shapes, values, separate classifier`, () => {
      const { path, start } = writeTiny(`tiny-${format}.bin`, format, false);
      const checkpoint = openLlama2c(path);
      try {
        const s = (section: string): number => start.get(section)!;
        assert.equal(checkpoint.header.format, format);
        assert.equal(checkpoint.header.sharedClassifier, false);
        assert.equal(checkpoint.config.tieWordEmbeddings, false);
        assert.equal(checkpoint.names().length, 1 + 9 * tiny.layers + 1 + 1);
        assert.deepEqual(
          Array.from(checkpoint.readFloat32("model.embed_tokens.weight")),
          range(s("tok"), 40),
        );
        assert.deepEqual(Array.from(checkpoint.readFloat32("lm_head.weight")), range(s("wcls"), 40));
        assert.deepEqual(Array.from(checkpoint.readFloat32("model.norm.weight")), range(s("rms_final"), 8));
        assert.deepEqual(
          Array.from(checkpoint.readFloat32("model.layers.1.input_layernorm.weight")),
          range(s("rms_att") + 8, 8),
        );
        assert.deepEqual(
          Array.from(checkpoint.readFloat32("model.layers.1.post_attention_layernorm.weight")),
          range(s("rms_ffn") + 8, 8),
        );
        assert.deepEqual(checkpoint.info("model.layers.0.mlp.down_proj.weight").shape, [8, 4]);
        assert.deepEqual(
          Array.from(checkpoint.readFloat32("model.layers.1.mlp.gate_proj.weight")),
          range(s("w1") + 32, 32),
        );
        assert.deepEqual(
          Array.from(checkpoint.readFloat32("model.layers.1.mlp.down_proj.weight")),
          range(s("w2") + 32, 32),
        );
        assert.deepEqual(
          Array.from(checkpoint.readFloat32("model.layers.1.mlp.up_proj.weight")),
          range(s("w3") + 32, 32),
        );
        assert.deepEqual(
          Array.from(checkpoint.readFloat32("model.layers.1.self_attn.v_proj.weight")),
          range(s("wv") + 32, 32),
        );
        assert.deepEqual(
          Array.from(checkpoint.readFloat32("model.layers.1.self_attn.o_proj.weight")),
          range(s("wo") + 64, 64),
        );

        // RoPE permutation, from transformers' view(heads, headSize/2, 2, dim).transpose(1, 2): with head size 4
        // the rows of each head come out in the order 0, 2, 1, 3.
        const rowOrder = [0, 2, 1, 3, 4, 6, 5, 7];
        const q = checkpoint.readFloat32("model.layers.1.self_attn.q_proj.weight");
        assert.deepEqual(checkpoint.info("model.layers.1.self_attn.q_proj.weight").shape, [8, 8]);
        assert.deepEqual(
          Array.from(q),
          rowOrder.flatMap((row) => range(s("wq") + 64 + row * 8, 8)),
        );
        const k = checkpoint.readFloat32("model.layers.0.self_attn.k_proj.weight");
        assert.deepEqual(checkpoint.info("model.layers.0.self_attn.k_proj.weight").shape, [4, 8]);
        assert.deepEqual(
          Array.from(k),
          [0, 2, 1, 3].flatMap((row) => range(s("wk") + row * 8, 8)),
        );
        const config = checkpoint.config;
        assert.deepEqual(
          [
            config.hiddenSize,
            config.intermediateSize,
            config.numLayers,
            config.numHeads,
            config.numKvHeads,
            config.headDim,
          ],
          [8, 4, 2, 2, 1, 4],
        );
        assert.deepEqual(
          [config.vocabSize, config.maxPositions, config.family, config.norm],
          [5, 3, "llama", "rmsnorm"],
        );
      } finally {
        checkpoint.close();
      }
      const raw = openLlama2c(path, { permuteRope: false });
      assert.deepEqual(
        Array.from(raw.readFloat32("model.layers.1.self_attn.q_proj.weight")),
        range(start.get("wq")! + 64, 64),
      );
      raw.close();
    });

    test(`${format}: shared classifier has no lm_head.weight`, () => {
      const { path } = writeTiny(`tiny-${format}-shared.bin`, format, true);
      const checkpoint = openLlama2c(path);
      assert.equal(checkpoint.config.tieWordEmbeddings, true);
      assert.equal(checkpoint.has("lm_head.weight"), false);
      expectCode(() => checkpoint.read("lm_head.weight"), "LLAMA2C_NOT_FOUND", /shared/);
      checkpoint.close();
      expectCode(() => checkpoint.read("model.norm.weight"), "LLAMA2C_CLOSED");
    });
  }

  test("permuteRopeRows matches the explicit view/transpose index map for several head sizes", () => {
    for (const [heads, headDim, columns] of [
      [1, 2, 3],
      [3, 6, 2],
      [2, 8, 1],
    ]) {
      const rows = heads * headDim;
      const weight = Float32Array.from({ length: rows * columns }, (_, i) => i);
      const permuted = permuteRopeRows(weight, heads, headDim, columns);
      // view(heads, headDim/2, 2, cols) -> element [h][i][j] is row h*headDim + 2i + j; after transpose(1,2)
      // the element [h][j][i] lands at row h*headDim + j*headDim/2 + i.
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < headDim / 2; i++) {
          for (let j = 0; j < 2; j++) {
            const target = h * headDim + j * (headDim / 2) + i;
            const source = h * headDim + 2 * i + j;
            assert.deepEqual(
              Array.from(permuted.subarray(target * columns, (target + 1) * columns)),
              Array.from(weight.subarray(source * columns, (source + 1) * columns)),
            );
          }
        }
      }
    }
  });
});

describe("llama2.c checkpoints: malformed files", () => {
  test("truncated, oversized and impossible headers give typed errors", () => {
    const { path } = writeTiny("base.bin", "legacy", false);
    const bytes = readFileSync(path);
    const cut = join(temp, "cut.bin");
    for (const length of [0, 10, 27, 28, 100, bytes.length - 1]) {
      writeFileSync(cut, bytes.subarray(0, length));
      expectCode(() => openLlama2c(cut), "LLAMA2C_TRUNCATED", /truncated/);
    }
    const { path: longer } = writeTiny("longer.bin", "legacy", false, 4);
    expectCode(
      () => openLlama2c(longer),
      "LLAMA2C_SIZE_MISMATCH",
      /needs \d+ bytes but the file is \d+ bytes/,
    );

    const patched = (index: number, value: number): string => {
      const copy = Buffer.from(bytes);
      copy.writeInt32LE(value, 4 * index);
      const out = join(temp, `patched-${index}-${value}.bin`);
      writeFileSync(out, copy);
      return out;
    };
    expectCode(() => openLlama2c(patched(0, 0)), "LLAMA2C_BAD_HEADER", /dim/);
    expectCode(() => openLlama2c(patched(3, 3)), "LLAMA2C_BAD_HEADER", /n_heads 3/);
    expectCode(() => openLlama2c(patched(4, 3)), "LLAMA2C_BAD_HEADER", /n_kv_heads 3/);
    expectCode(() => openLlama2c(patched(2, 2147483647)), "LLAMA2C_TRUNCATED");
    expectCode(() => openLlama2c(patched(0, 2147483646)), "LLAMA2C_BAD_HEADER");

    const v1 = Buffer.from(readFileSync(writeTiny("v1.bin", "v1", true).path));
    v1.writeInt32LE(2, 4);
    writeFileSync(join(temp, "v2.bin"), v1);
    expectCode(() => openLlama2c(join(temp, "v2.bin")), "LLAMA2C_UNSUPPORTED_VERSION", /version 2/);
    writeFileSync(join(temp, "v1-cut.bin"), v1.subarray(0, 30));
    expectCode(() => openLlama2c(join(temp, "v1-cut.bin")), "LLAMA2C_TRUNCATED");
    expectCode(() => openLlama2c(join(temp, "missing.bin")), "LLAMA2C_IO", /missing\.bin/);
  });
});

describe("llama2.c: stories260K and tok512", () => {
  test("stories260K header and config, read from the file", () => {
    const checkpoint = openLlama2c(storiesPath);
    try {
      assert.deepEqual(checkpoint.header, {
        format: "legacy",
        dim: 64,
        hiddenDim: 172,
        numLayers: 5,
        numHeads: 8,
        numKvHeads: 4,
        vocabSize: 512,
        seqLen: 512,
        sharedClassifier: true,
      });
      const c = checkpoint.config;
      assert.deepEqual(
        [
          c.hiddenSize,
          c.intermediateSize,
          c.numLayers,
          c.numHeads,
          c.numKvHeads,
          c.headDim,
          c.vocabSize,
          c.maxPositions,
        ],
        [64, 172, 5, 8, 4, 8, 512, 512],
      );
      assert.equal(c.tieWordEmbeddings, true);
      assert.deepEqual(
        [c.layerNormEps, c.ropeTheta, c.act, c.bosTokenId, c.eosTokenId],
        [1e-5, 10000, "silu", 1, 2],
      );
      assert.equal(checkpoint.names().length, 1 + 5 * 9 + 1);
      assert.deepEqual(checkpoint.info("model.layers.4.self_attn.k_proj.weight").shape, [32, 64]);
      assert.deepEqual(checkpoint.info("model.layers.0.mlp.down_proj.weight").shape, [64, 172]);
      // The final norm is the last float32 block before freq_cis; compare with the raw bytes.
      const raw = readFileSync(storiesPath);
      const normStart = raw.length - 2 * 512 * 4 * 4 - 64 * 4;
      const expectedNorm = Array.from({ length: 64 }, (_, i) => raw.readFloatLE(normStart + 4 * i));
      assert.deepEqual(Array.from(checkpoint.readFloat32("model.norm.weight")), expectedNorm);
    } finally {
      checkpoint.close();
    }
  });

  test("tok512.bin: 512 pieces, byte-fallback tokens, BOS/EOS as written by llama2.c", () => {
    const tokenizer = readLlama2cTokenizer(tokenizerPath, 512);
    assert.equal(tokenizer.vocab.length, 512);
    assert.equal(tokenizer.scores.length, 512);
    assert.deepEqual(tokenizer.vocab.slice(0, 4), ["<unk>", "\n<s>\n", "\n</s>\n", "<0x00>"]);
    assert.equal(tokenizer.vocab[3 + 0x0a], "<0x0A>");
    assert.equal(tokenizer.vocab[258], "<0xFF>");
    assert.ok(tokenizer.pieces.every((piece) => piece.length <= tokenizer.maxTokenLength));
    assert.equal(tokenizer.maxTokenLength, Math.max(...tokenizer.pieces.map((piece) => piece.length)));
    assert.ok(
      tokenizer.vocab.some((piece) => piece.startsWith(" ")),
      "SentencePiece ▁ is stored as a space",
    );
    assert.deepEqual(
      readLlama2cTokenizer(tokenizerPath).vocab,
      tokenizer.vocab,
      "reading to the end finds 512 too",
    );
  });

  test("tokenizer errors: wrong vocabulary size, truncation", () => {
    expectCode(
      () => readLlama2cTokenizer(tokenizerPath, 511),
      "LLAMA2C_BAD_TOKENIZER",
      /bytes left after 511 tokens/,
    );
    expectCode(() => readLlama2cTokenizer(tokenizerPath, 513), "LLAMA2C_BAD_TOKENIZER", /token 512/);
    const bytes = readFileSync(tokenizerPath);
    const cut = join(temp, "tok-cut.bin");
    for (const length of [0, 3, 9, 100, bytes.length - 1]) {
      writeFileSync(cut, bytes.subarray(0, length));
      // With the model's vocabulary size every cut is detectable (without it, a cut exactly between two
      // pieces just reads fewer pieces).
      expectCode(() => readLlama2cTokenizer(cut, 512), "LLAMA2C_BAD_TOKENIZER");
    }
    expectCode(() => readLlama2cTokenizer(join(temp, "nope.bin")), "LLAMA2C_IO");
  });

  test("greedy generation over the loaded weights with HF rotate-half RoPE reproduces upstream llama2.c", () => {
    // Proves the names, the layout and the wq/wk row permutation: run.c's interleaved RoPE on the raw file
    // and rotate_half on our permuted weights must yield the same text.
    const checkpoint = openLlama2c(storiesPath);
    const tokenizer = readLlama2cTokenizer(tokenizerPath, checkpoint.config.vocabSize);
    const text = greedyLlama2c(new ReferenceLlama(checkpoint.config, checkpoint), tokenizer.pieces, 200);
    checkpoint.close();
    const expected = readFileSync(sharedPath("models/stories260K/expected_greedy_200.txt"));
    assert.equal(new TextDecoder().decode(text), expected.toString("utf8"));
  });
});
