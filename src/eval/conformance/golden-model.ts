// Builds the model a golden case names (model_dir) from its config.json and safetensors.

import { join } from "node:path";
import { readHfConfig } from "../../io/hf-config.js";
import { openCheckpoint } from "../../io/safetensors-index.js";
import { BertModel } from "../../models/bert.js";
import { GPT2LMHeadModel } from "../../models/gpt2.js";
import { LlamaForCausalLM } from "../../models/llama.js";
import { loadWeights } from "../../models/load-weights.js";
import type { Module } from "../../nn/module.js";
import type { GoldenCase } from "./golden-case.js";

/** Loads a model folder's weights into model (prefix-tolerant), closing the checkpoint. */
export function loadFolderWeights(
  model: Module,
  dir: string,
  prefix: string,
  optional?: (name: string) => boolean,
): void {
  const source = openCheckpoint(dir);
  try {
    loadWeights(model, source, { prefix, optional });
  } finally {
    source.close();
  }
}

/** The backbone of a BERT case (BertModel, with pooler) or the causal LM of a GPT-2 / Llama case. */
export function goldenBaseModel(c: GoldenCase): BertModel | GPT2LMHeadModel | LlamaForCausalLM {
  const dir = join(c.root, c.spec.model_dir);
  const config = readHfConfig(join(dir, "config.json"));
  const model =
    config.family === "bert"
      ? new BertModel(config)
      : config.family === "gpt2"
        ? new GPT2LMHeadModel(config)
        : new LlamaForCausalLM(config);
  loadFolderWeights(model, dir, config.baseModelPrefix);
  return model;
}
