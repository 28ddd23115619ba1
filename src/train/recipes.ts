// Named pretraining recipes for the lab models: small BERT and Llama configurations with the schedule and
// budget that let each finish within an hour on a 2-core CPU. A recipe is data (an HF config.json object plus
// the options of pretrain()); the texts and the tokenizer come from the caller (see lab-recipe-data.ts).
//
// Step times (measuredMsPerStep) are the slower of two measurements on this project's 2-core machine (native
// backend): 2 threads on a quiet machine, and 1 thread while other jobs ran; `steps` is set from them so that every
// estimatedMinutes stays under the hour. Decoders train on 256-token blocks
// (same tokens per step as 32 x 128) so few-shot prompts with 8-16 demonstrations fit the trained context.

import { AdaptlmError } from "../errors.js";
import type { PretrainObjective, PretrainOptions } from "./pretrain.js";

export const RECIPE_NAMES = ["lab-encoder", "lab-decoder-s", "lab-decoder-m", "lab-decoder-l"] as const;
export type RecipeName = (typeof RECIPE_NAMES)[number];

export class RecipeError extends AdaptlmError {}

export interface PretrainRecipe {
  name: RecipeName;
  description: string;
  objective: PretrainObjective;
  /** The tokenizer the recipe expects (trained on the recipe's data by the caller). */
  tokenizer: { kind: "wordpiece" | "byte-level-bpe"; vocabSize: number };
  /** HF config.json keys (vocab_size = tokenizer.vocabSize). */
  config: Record<string, unknown>;
  seqLen: number;
  batchSize: number;
  steps: number;
  learningRate: number;
  warmupSteps: number;
  weightDecay: number;
  betas: [number, number];
  evalEvery: number;
  checkpointEvery: number;
  evalBlocks: number;
  dtype: "f32" | "f16";
  /** Measured milliseconds per optimizer step on the 2-core machine (see the file comment). */
  measuredMsPerStep: number;
  /** steps * measuredMsPerStep, plus evaluation, in minutes. */
  estimatedMinutes: number;
}

const VOCAB = 4096;

function bertConfig(hidden: number, layers: number, heads: number, intermediate: number, positions: number) {
  return {
    model_type: "bert",
    architectures: ["BertForMaskedLM"],
    vocab_size: VOCAB,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    intermediate_size: intermediate,
    max_position_embeddings: positions,
    type_vocab_size: 2,
    hidden_act: "gelu",
    layer_norm_eps: 1e-12,
    initializer_range: 0.02,
    // adaptlm's BERT has no dropout; transformers reads these when fine-tuning the result.
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    position_embedding_type: "absolute",
    pad_token_id: 0,
  };
}

function llamaConfig(hidden: number, layers: number, heads: number, intermediate: number, positions: number) {
  return {
    model_type: "llama",
    architectures: ["LlamaForCausalLM"],
    vocab_size: VOCAB,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: heads,
    intermediate_size: intermediate,
    max_position_embeddings: positions,
    hidden_act: "silu",
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: true,
    attention_bias: false,
    mlp_bias: false,
    initializer_range: 0.02,
  };
}

/** Minutes for `steps` at `ms` per step, plus ~3% for evaluations and checkpoints. */
function minutes(steps: number, ms: number): number {
  return Math.round(((steps * ms) / 60000) * 1.03 * 10) / 10;
}

function recipe(
  r: Omit<PretrainRecipe, "estimatedMinutes" | "checkpointEvery" | "warmupSteps"> & {
    warmupSteps?: number;
  },
): PretrainRecipe {
  return {
    ...r,
    warmupSteps: r.warmupSteps ?? Math.round(0.05 * r.steps),
    checkpointEvery: r.evalEvery,
    estimatedMinutes: minutes(r.steps, r.measuredMsPerStep),
  };
}

export const RECIPES: Readonly<Record<RecipeName, PretrainRecipe>> = {
  // ~0.95M parameters. Batch 32 x 64, head on masked positions only. 72 ms/step on 2 quiet threads (18.3 min for
  // the shipped model, 2026-11-29); ~200 ms on 1 thread beside another job, the figure the estimate uses. The
  // previous recipe (hidden 256, 4 layers, 128 positions, 450 steps of 32 x 128) ended on the masked-LM unigram
  // plateau and so did a 3000-step run of it. This smaller model takes ~5x more steps in the same time and
  // leaves the plateau between steps 4000 and 7000: validation loss 5.84 at 3000, 5.05 at 6000, 4.13 at 8000,
  // 3.60 at the end (the corpus' unigram entropy is 6.50 nats per token).
  "lab-encoder": recipe({
    name: "lab-encoder",
    description:
      "BERT encoder, masked-LM: hidden 128, 2 layers, 2 heads, FFN 512, 64 positions, WordPiece 4096",
    objective: "mlm",
    tokenizer: { kind: "wordpiece", vocabSize: VOCAB },
    config: bertConfig(128, 2, 2, 512, 64),
    seqLen: 64,
    batchSize: 32,
    steps: 15000,
    learningRate: 1e-3,
    warmupSteps: 200,
    weightDecay: 0.01,
    betas: [0.9, 0.999],
    evalEvery: 1000,
    evalBlocks: 256,
    dtype: "f32",
    measuredMsPerStep: 200,
  }),
  // ~1.4M parameters. 2026-11-28: 1600-1900 ms/step at 16 x 256 under load (1050-1890 at 32 x 128) -> ~26 min.
  "lab-decoder-s": recipe({
    name: "lab-decoder-s",
    description:
      "Llama decoder ~1.4M: hidden 128, 4 layers, 4 heads, SwiGLU 384, tied embeddings, byte-level BPE 4096",
    objective: "clm",
    tokenizer: { kind: "byte-level-bpe", vocabSize: VOCAB },
    config: llamaConfig(128, 4, 4, 384, 256),
    seqLen: 256,
    batchSize: 16,
    steps: 850,
    learningRate: 2e-3,
    weightDecay: 0.1,
    betas: [0.9, 0.95],
    evalEvery: 100,
    evalBlocks: 64,
    dtype: "f32",
    measuredMsPerStep: 1800,
  }),
  // ~4.5M parameters. 2026-11-28: 3600-4800 ms/step at 16 x 256 under load (2310-2470 at 32 x 128) -> ~43 min.
  "lab-decoder-m": recipe({
    name: "lab-decoder-m",
    description:
      "Llama decoder ~4.5M: hidden 256, 4 layers, 4 heads, SwiGLU 768, tied embeddings, byte-level BPE 4096",
    objective: "clm",
    tokenizer: { kind: "byte-level-bpe", vocabSize: VOCAB },
    config: llamaConfig(256, 4, 4, 768, 256),
    seqLen: 256,
    batchSize: 16,
    steps: 600,
    learningRate: 1e-3,
    weightDecay: 0.1,
    betas: [0.9, 0.95],
    evalEvery: 100,
    evalBlocks: 64,
    dtype: "f32",
    measuredMsPerStep: 4200,
  }),
  // ~10.4M parameters (f16: ~21 MB). 8 x 256: 1500-2000 ms/step on 2 quiet threads (2026-11-28, ~1040 tok/s);
  // the earlier 4500-4900 ms/step were measured under load.
  "lab-decoder-l": recipe({
    name: "lab-decoder-l",
    description:
      "Llama decoder ~10.4M: hidden 384, 5 layers, 6 heads, SwiGLU 1024, tied embeddings, byte-level BPE 4096",
    objective: "clm",
    tokenizer: { kind: "byte-level-bpe", vocabSize: VOCAB },
    config: llamaConfig(384, 5, 6, 1024, 256),
    seqLen: 256,
    batchSize: 8,
    steps: 1400,
    learningRate: 1e-3,
    weightDecay: 0.1,
    betas: [0.9, 0.95],
    evalEvery: 100,
    evalBlocks: 64,
    dtype: "f16",
    measuredMsPerStep: 2000,
  }),
};

/** The recipe of that name, or a typed error listing the names. */
export function getRecipe(name: string): PretrainRecipe {
  if (!(RECIPE_NAMES as readonly string[]).includes(name)) {
    throw new RecipeError(
      "UNKNOWN_RECIPE",
      `unknown pretraining recipe "${name}"; recipes: ${RECIPE_NAMES.join(", ")}`,
    );
  }
  return RECIPES[name as RecipeName];
}

/** pretrain() options of a recipe, for a tokenizer of `vocabSize` tokens (the config's vocab_size follows it). */
export function recipeOptions(
  recipe: PretrainRecipe,
  vocabSize: number,
): Pick<
  PretrainOptions,
  | "config"
  | "objective"
  | "seqLen"
  | "batchSize"
  | "steps"
  | "learningRate"
  | "warmupSteps"
  | "weightDecay"
  | "betas"
  | "evalEvery"
  | "checkpointEvery"
  | "evalBlocks"
  | "dtype"
> {
  return {
    config: { ...recipe.config, vocab_size: vocabSize },
    objective: recipe.objective,
    seqLen: recipe.seqLen,
    batchSize: recipe.batchSize,
    steps: recipe.steps,
    learningRate: recipe.learningRate,
    warmupSteps: recipe.warmupSteps,
    weightDecay: recipe.weightDecay,
    betas: recipe.betas,
    evalEvery: recipe.evalEvery,
    checkpointEvery: recipe.checkpointEvery,
    evalBlocks: recipe.evalBlocks,
    dtype: recipe.dtype,
  };
}
