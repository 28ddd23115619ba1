// Model folders written by the tests themselves (random weights, HF names and config keys), for loading,
// fill-mask and CLI tests. Each call writes into a fresh temporary folder.

import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseHfConfig } from "../../src/io/hf-config.js";
import { type TensorToWrite, writeSafetensors } from "../../src/io/safetensors.js";
import { BertForMaskedLM } from "../../src/models/bert.js";
import { sharedPath } from "../io/shared-paths.js";
import { makeTempDir } from "../io/temp-dir.js";

export interface TinyBertOptions {
  /** Write the MLM head (cls.predictions.*) and say BertForMaskedLM in architectures (default true). */
  mlmHead?: boolean;
  /** Extra tensors a real checkpoint may carry (position_ids, the tied decoder). */
  extras?: boolean;
  seed?: number;
}

/** A tiny random BERT (MLM) folder with the bert-base-uncased vocabulary (30522 tokens). */
export function writeTinyBertFolder(options: TinyBertOptions = {}): string {
  const dir = join(makeTempDir("tiny-bert"), "model");
  mkdirSync(dir, { recursive: true });
  const mlm = options.mlmHead ?? true;
  const json = {
    architectures: [mlm ? "BertForMaskedLM" : "BertModel"],
    model_type: "bert",
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 24,
    max_position_embeddings: 64,
    vocab_size: 30522,
    type_vocab_size: 2,
    hidden_act: "gelu",
    layer_norm_eps: 1e-12,
    pad_token_id: 0,
    torch_dtype: "float32",
  };
  writeFileSync(join(dir, "config.json"), JSON.stringify(json, null, 2));
  const model = new BertForMaskedLM(parseHfConfig(json, join(dir, "config.json")), {
    seed: options.seed ?? 7,
  });
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, p] of model.namedParameters()) {
    if (!mlm && name.startsWith("cls.")) continue;
    // Random, non-zero biases so a missing term would show.
    const data = Float32Array.from(p.data.subarray(0, p.size));
    if (name.endsWith("bias"))
      for (let i = 0; i < data.length; i++) data[i] = 0.01 * Math.sin(i + name.length);
    tensors[name] = { shape: p.shape, data };
  }
  if (options.extras) {
    tensors["bert.embeddings.position_ids"] = {
      shape: [1, 64],
      data: Int32Array.from({ length: 64 }, (_, i) => i),
      dtype: "I64",
    };
    if (mlm) tensors["cls.predictions.decoder.weight"] = tensors["bert.embeddings.word_embeddings.weight"];
  }
  writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
  copyFileSync(sharedPath("tokenizers/bert-base-uncased/vocab.txt"), join(dir, "vocab.txt"));
  writeFileSync(
    join(dir, "tokenizer_config.json"),
    JSON.stringify({ do_lower_case: true, model_max_length: 64 }),
  );
  return dir;
}

export const stories260K = {
  checkpoint: sharedPath("models/stories260K/stories260K.bin"),
  tokenizer: sharedPath("models/stories260K/tok512.bin"),
  expected: sharedPath("models/stories260K/expected_greedy_200.txt"),
};

export const tinyGpt2Folder = sharedPath("models/tiny-gpt2-hf-random");
export const goldenGpt2Folder = sharedPath("golden/models/gpt2");
export const goldenLlamaFolder = sharedPath("golden/models/llama");

/** A fresh copy of the tiny HF GPT-2 folder with a generation_config.json (an object, or raw text to test errors). */
export function tinyGpt2WithGenerationConfig(config: unknown): string {
  const dir = join(makeTempDir("tiny-gpt2-generation-config"), "model");
  mkdirSync(dir);
  for (const file of readdirSync(tinyGpt2Folder)) copyFileSync(join(tinyGpt2Folder, file), join(dir, file));
  writeFileSync(
    join(dir, "generation_config.json"),
    typeof config === "string" ? config : JSON.stringify(config),
  );
  return dir;
}
