// loadModel: HF folders (by model_type and architectures), llama2.c checkpoints, tied embeddings, harmless
// extra checkpoint tensors, and the errors for unknown model types and missing tokenizers.

import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { AdaptlmError } from "../../src/errors.js";
import { parseHfConfig } from "../../src/io/hf-config.js";
import { type TensorToWrite, writeSafetensors } from "../../src/io/safetensors.js";
import { openCheckpoint } from "../../src/io/safetensors-index.js";
import { BertForMaskedLM } from "../../src/models/bert.js";
import { loadLocalModel, loadModel, parameterCount, requireTokenizer } from "../../src/models/load-model.js";
import * as T from "../../src/tensor/index.js";
import { makeTempDir } from "../io/temp-dir.js";
import {
  goldenGpt2Folder,
  goldenLlamaFolder,
  stories260K,
  tinyGpt2Folder,
  writeTinyBertFolder,
} from "./model-fixtures.js";

function logitsOf(forward: (inputs: { inputIds: T.Tensor }) => T.Tensor, ids: number[]): Float32Array {
  return T.scope(() =>
    T.noGrad(() => {
      const out = forward({ inputIds: T.tensor(ids, [1, ids.length], "int32") });
      return Float32Array.from(out.data.subarray(0, out.size));
    }),
  );
}

describe("loadModel", () => {
  test("the tiny GPT-2 saved by transformers (GPT2Model, no prefix) loads as a causal LM and runs", async () => {
    const loaded = await loadModel(tinyGpt2Folder);
    assert.equal(loaded.kind, "causal-lm");
    assert.equal(loaded.config.modelType, "gpt2");
    assert.deepEqual(loaded.weights.unused, []);
    assert.ok(loaded.tokenizer, "vocab.json + merges.txt give a tokenizer");
    assert.equal(loaded.tokenizer.kind, "byte-level-bpe");
    // 21 x 2 wte (tied head) + 1024 x 2 wpe + one block + ln_f.
    assert.equal(
      parameterCount(loaded),
      21 * 2 + 1024 * 2 + (2 + 2) * 2 + (2 * 6 + 6) + (2 * 2 + 2) + (2 * 8 + 8) + (8 * 2 + 2) + 2 * 2,
    );
    const ids = loaded.tokenizer.encode("hello world").ids;
    assert.ok(ids.length > 0);
    const logits = logitsOf((i) => (loaded.model as { forward(x: typeof i): T.Tensor }).forward(i), ids);
    assert.equal(logits.length, ids.length * 21);
    assert.ok(logits.every(Number.isFinite));
  });

  test("ignores harmless extra tensors (attn.bias buffers, position_ids) and reports them unused", () => {
    const dir = join(makeTempDir("gpt2-extra"), "model");
    mkdirSync(dir);
    copyFileSync(join(goldenGpt2Folder, "config.json"), join(dir, "config.json"));
    const source = openCheckpoint(goldenGpt2Folder);
    const tensors: Record<string, TensorToWrite> = {};
    for (const name of source.names())
      tensors[name] = { shape: source.info(name).shape, data: source.readFloat32(name) };
    source.close();
    tensors["transformer.h.0.attn.bias"] = { shape: [1, 1, 4, 4], data: new Float32Array(16).fill(1) };
    tensors["transformer.h.0.attn.masked_bias"] = { shape: [], data: new Float32Array([-1e4]) };
    writeSafetensors(join(dir, "model.safetensors"), tensors);
    const withExtras = loadLocalModel(dir);
    const plain = loadLocalModel(goldenGpt2Folder);
    assert.deepEqual(withExtras.weights.unused.sort(), [
      "transformer.h.0.attn.bias",
      "transformer.h.0.attn.masked_bias",
    ]);
    const ids = [98, 5, 17, 42, 3];
    const a = logitsOf((i) => (withExtras.model as { forward(x: typeof i): T.Tensor }).forward(i), ids);
    const b = logitsOf((i) => (plain.model as { forward(x: typeof i): T.Tensor }).forward(i), ids);
    assert.deepEqual(a, b);
    assert.equal(plain.tokenizer, null, "the golden folder has no tokenizer files");
    assert.throws(
      () => requireTokenizer(plain),
      (e: unknown) => e instanceof AdaptlmError && e.code === "MODEL_TOKENIZER_MISSING",
    );
  });

  test("an untied Llama (lm_head in the checkpoint) loads as a causal LM", () => {
    const loaded = loadLocalModel(goldenLlamaFolder);
    assert.equal(loaded.kind, "causal-lm");
    assert.equal(loaded.config.tieWordEmbeddings, false);
    assert.ok(loaded.weights.loaded.includes("lm_head.weight"));
  });

  test("BERT: architectures BertForMaskedLM -> masked-lm with the tied decoder; without the head -> encoder", () => {
    const mlmDir = writeTinyBertFolder({ extras: true });
    const mlm = loadLocalModel(mlmDir);
    assert.equal(mlm.kind, "masked-lm");
    assert.deepEqual(mlm.weights.unused.sort(), [
      "bert.embeddings.position_ids",
      "cls.predictions.decoder.weight",
    ]);
    assert.ok(mlm.weights.loaded.includes("cls.predictions.transform.dense.weight"));
    assert.equal(mlm.tokenizer?.kind, "wordpiece");
    const encoderDir = writeTinyBertFolder({ mlmHead: false });
    const encoder = loadLocalModel(encoderDir);
    assert.equal(encoder.kind, "encoder");
    // The same weights as an encoder, asked for explicitly: the MLM head is simply not built.
    const asEncoder = loadLocalModel(mlmDir, { kind: "encoder" });
    assert.equal(asEncoder.kind, "encoder");
    // An encoder-only checkpoint cannot become a masked LM: the head is missing, by name.
    assert.throws(
      () => loadLocalModel(encoderDir, { kind: "masked-lm" }),
      (e: unknown) =>
        e instanceof AdaptlmError && e.code === "WEIGHTS_MISSING" && /cls\.predictions/.test(e.message),
    );
    // A decoder family cannot be an encoder.
    assert.throws(
      () => loadLocalModel(goldenGpt2Folder, { kind: "encoder" }),
      (e: unknown) => e instanceof AdaptlmError && e.code === "MODEL_KIND_UNAVAILABLE",
    );
  });

  test("an unknown model_type is an error listing the supported ones", async () => {
    const dir = makeTempDir("t5");
    writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "t5", d_model: 8 }));
    await assert.rejects(loadModel(dir), (e: unknown) => {
      assert.ok(e instanceof AdaptlmError);
      assert.equal(e.code, "CONFIG_UNKNOWN_MODEL_TYPE");
      for (const type of ["bert", "roberta", "distilbert", "gpt2", "llama", "mistral", "qwen2"])
        assert.match(e.message, new RegExp(type));
      return true;
    });
  });

  test("a llama2.c checkpoint with --tokenizer; without one the tokenizer is missing, by a clear error", async () => {
    const loaded = await loadModel(stories260K.checkpoint, { tokenizer: stories260K.tokenizer });
    assert.equal(loaded.kind, "causal-lm");
    assert.equal(loaded.source.format, "llama2c");
    assert.equal(loaded.tokenizer?.vocabSize, 512);
    assert.equal(parameterCount(loaded), 260032);
    // stories260K.bin has no tokenizer.bin / tok512.bin... except tok512.bin sits next to it: found by its name.
    const sibling = await loadModel(stories260K.checkpoint);
    assert.equal(sibling.tokenizer?.vocabSize, 512);
    const lonely = join(makeTempDir("llama2c"), "model.bin");
    copyFileSync(stories260K.checkpoint, lonely);
    const bare = await loadModel(lonely);
    assert.equal(bare.tokenizer, null);
    assert.throws(
      () => requireTokenizer(bare),
      (e: unknown) => e instanceof AdaptlmError && /--tokenizer/.test(e.message),
    );
  });

  test("a path that is neither a model nor a hub id", async () => {
    await assert.rejects(
      loadModel("/nonexistent/folder/x"),
      (e: unknown) => e instanceof AdaptlmError && e.code === "MODEL_NOT_FOUND",
    );
  });

  test("RoBERTa (lm_head.*) and DistilBERT (q_lin, sa_layer_norm, ffn.lin1, vocab_*) checkpoints load by their own names", () => {
    const layer = (rename: [RegExp, string][]) => (name: string) =>
      rename.reduce((n, [pattern, to]) => n.replace(pattern, to), name);
    const variants: { json: Record<string, unknown>; rename: (name: string) => string; extra: string }[] = [
      {
        json: {
          model_type: "roberta",
          architectures: ["RobertaForMaskedLM"],
          hidden_size: 16,
          num_hidden_layers: 2,
          num_attention_heads: 2,
          intermediate_size: 24,
          vocab_size: 50,
          max_position_embeddings: 40,
          type_vocab_size: 1,
          pad_token_id: 1,
        },
        rename: layer([
          [/^cls\.predictions\.transform\.dense\./, "lm_head.dense."],
          [/^cls\.predictions\.transform\.LayerNorm\./, "lm_head.layer_norm."],
          [/^cls\.predictions\.bias$/, "lm_head.bias"],
        ]),
        extra: "lm_head.decoder.weight",
      },
      {
        json: {
          model_type: "distilbert",
          architectures: ["DistilBertForMaskedLM"],
          dim: 16,
          n_layers: 2,
          n_heads: 2,
          hidden_dim: 24,
          vocab_size: 50,
          max_position_embeddings: 40,
          activation: "gelu",
        },
        rename: layer([
          [/\.encoder\.layer\.(\d+)\.attention\.self\.query\./, ".transformer.layer.$1.attention.q_lin."],
          [/\.encoder\.layer\.(\d+)\.attention\.self\.key\./, ".transformer.layer.$1.attention.k_lin."],
          [/\.encoder\.layer\.(\d+)\.attention\.self\.value\./, ".transformer.layer.$1.attention.v_lin."],
          [/\.encoder\.layer\.(\d+)\.attention\.output\.dense\./, ".transformer.layer.$1.attention.out_lin."],
          [/\.encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\./, ".transformer.layer.$1.sa_layer_norm."],
          [/\.encoder\.layer\.(\d+)\.intermediate\.dense\./, ".transformer.layer.$1.ffn.lin1."],
          [/\.encoder\.layer\.(\d+)\.output\.dense\./, ".transformer.layer.$1.ffn.lin2."],
          [/\.encoder\.layer\.(\d+)\.output\.LayerNorm\./, ".transformer.layer.$1.output_layer_norm."],
          [/^cls\.predictions\.transform\.dense\./, "vocab_transform."],
          [/^cls\.predictions\.transform\.LayerNorm\./, "vocab_layer_norm."],
          [/^cls\.predictions\.bias$/, "vocab_projector.bias"],
        ]),
        extra: "vocab_projector.weight",
      },
    ];
    for (const { json, rename, extra } of variants) {
      const dir = join(makeTempDir(String(json.model_type)), "model");
      mkdirSync(dir);
      writeFileSync(join(dir, "config.json"), JSON.stringify(json));
      const source = new BertForMaskedLM(parseHfConfig(json, "config.json"), { seed: 3 });
      const tensors: Record<string, TensorToWrite> = {};
      let embeddings: TensorToWrite | undefined;
      for (const [name, p] of source.namedParameters()) {
        const data = Float32Array.from(p.data.subarray(0, p.size));
        if (name.endsWith("bias"))
          for (let i = 0; i < data.length; i++) data[i] = 0.02 * Math.cos(i + name.length);
        p.data.set(data);
        tensors[rename(name)] = { shape: p.shape, data };
        if (name.endsWith("word_embeddings.weight")) embeddings = tensors[rename(name)];
      }
      assert.ok(embeddings);
      tensors[extra] = embeddings;
      writeSafetensors(join(dir, "model.safetensors"), tensors);
      const loaded = loadLocalModel(dir);
      assert.equal(loaded.kind, "masked-lm", String(json.model_type));
      assert.deepEqual(loaded.weights.unused, [extra]);
      const ids = [0, 7, 12, 33, 4, 2];
      const expected = logitsOf((i) => source.forward(i), ids);
      const actual = logitsOf((i) => (loaded.model as BertForMaskedLM).forward(i), ids);
      assert.deepEqual(actual, expected, String(json.model_type));
    }
  });
});
