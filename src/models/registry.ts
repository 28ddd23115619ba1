// The model registry: from a normalised config (keyed by `model_type`) and its `architectures` to the module
// adaptlm builds, and the checkpoint names each architecture's weights go by.
//
//   model_type   family  kinds                    checkpoint names beyond our (BERT / GPT-2 / Llama) names
//   bert         bert    masked-lm | encoder      cls.predictions.* (MLM head, decoder tied)
//   roberta      bert    masked-lm | encoder      lm_head.{dense,layer_norm,bias} (RobertaLMHead)
//   distilbert   bert    masked-lm | encoder      transformer.layer.N.{attention.{q,k,v,out}_lin, sa_layer_norm,
//                                                 ffn.lin{1,2}, output_layer_norm}, vocab_{transform,layer_norm,projector}
//   gpt2         gpt2    causal-lm                GPT2Model checkpoints lack the "transformer." prefix (handled by
//                                                 loadWeights); lm_head tied to wte
//   llama, mistral, qwen2   llama   causal-lm
//
// Which head: transformers picks the class from `architectures` (e.g. ["BertForMaskedLM"]); an encoder
// family with an MLM architecture, or whose checkpoint carries the MLM head's tensors, becomes "masked-lm",
// anything else of that family a plain "encoder". Decoder families are always causal LMs (a GPT2Model
// checkpoint's head is the tied embedding, so it generates too).

import { AdaptlmError } from "../errors.js";
import { type ModelConfig, SUPPORTED_MODEL_TYPES, type SupportedModelType } from "../io/hf-config.js";
import type { TensorSource } from "../io/tensor-source.js";
import { BertForMaskedLM, BertModel } from "./bert.js";
import { GPT2LMHeadModel } from "./gpt2.js";
import { LlamaForCausalLM } from "./llama.js";

/** What a loaded model does natively: generate (causal-lm), fill in blanks (masked-lm), or embed (encoder). */
export type ModelKind = "causal-lm" | "masked-lm" | "encoder";

export type CausalLanguageModel = GPT2LMHeadModel | LlamaForCausalLM;

/** A built module with its kind, as a discriminated union. */
export type BuiltModel =
  | { kind: "causal-lm"; model: CausalLanguageModel }
  | { kind: "masked-lm"; model: BertForMaskedLM }
  | { kind: "encoder"; model: BertModel };

/** Error for a model the registry cannot build. Codes: MODEL_UNSUPPORTED, MODEL_KIND_UNAVAILABLE. */
export class ModelRegistryError extends AdaptlmError {}

interface RegistryEntry {
  kinds: readonly ModelKind[];
  /** Checkpoint names (full, prefixed) to try for one of our parameter names, beyond loadWeights' own variants. */
  aliases?: (name: string, prefix: string) => string[];
}

const RENAMES_DISTILBERT: [RegExp, string][] = [
  [/^encoder\.layer\.(\d+)\.attention\.self\.query\./, "transformer.layer.$1.attention.q_lin."],
  [/^encoder\.layer\.(\d+)\.attention\.self\.key\./, "transformer.layer.$1.attention.k_lin."],
  [/^encoder\.layer\.(\d+)\.attention\.self\.value\./, "transformer.layer.$1.attention.v_lin."],
  [/^encoder\.layer\.(\d+)\.attention\.output\.dense\./, "transformer.layer.$1.attention.out_lin."],
  [/^encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\./, "transformer.layer.$1.sa_layer_norm."],
  [/^encoder\.layer\.(\d+)\.intermediate\.dense\./, "transformer.layer.$1.ffn.lin1."],
  [/^encoder\.layer\.(\d+)\.output\.dense\./, "transformer.layer.$1.ffn.lin2."],
  [/^encoder\.layer\.(\d+)\.output\.LayerNorm\./, "transformer.layer.$1.output_layer_norm."],
];

const HEAD_DISTILBERT: [RegExp, string][] = [
  [/^cls\.predictions\.transform\.dense\./, "vocab_transform."],
  [/^cls\.predictions\.transform\.LayerNorm\./, "vocab_layer_norm."],
  [/^cls\.predictions\.bias$/, "vocab_projector.bias"],
];

const HEAD_ROBERTA: [RegExp, string][] = [
  [/^cls\.predictions\.transform\.dense\./, "lm_head.dense."],
  [/^cls\.predictions\.transform\.LayerNorm\./, "lm_head.layer_norm."],
  [/^cls\.predictions\.bias$/, "lm_head.bias"],
];

/** Applies backbone renames (under the prefix, with and without it) and head renames (no prefix). */
function renamer(backbone: [RegExp, string][], head: [RegExp, string][]) {
  return (name: string, prefix: string): string[] => {
    const out: string[] = [];
    const bare = name.startsWith(`${prefix}.`) ? name.slice(prefix.length + 1) : name;
    for (const [pattern, replacement] of backbone) {
      if (pattern.test(bare)) {
        const renamed = bare.replace(pattern, replacement);
        out.push(`${prefix}.${renamed}`, renamed);
      }
    }
    for (const [pattern, replacement] of head)
      if (pattern.test(name)) out.push(name.replace(pattern, replacement));
    return out;
  };
}

const REGISTRY: Record<SupportedModelType, RegistryEntry> = {
  bert: { kinds: ["masked-lm", "encoder"] },
  roberta: { kinds: ["masked-lm", "encoder"], aliases: renamer([], HEAD_ROBERTA) },
  distilbert: { kinds: ["masked-lm", "encoder"], aliases: renamer(RENAMES_DISTILBERT, HEAD_DISTILBERT) },
  gpt2: { kinds: ["causal-lm"] },
  llama: { kinds: ["causal-lm"] },
  mistral: { kinds: ["causal-lm"] },
  qwen2: { kinds: ["causal-lm"] },
};

/** The model types adaptlm builds (= those config.json parsing accepts). */
export function supportedModelTypes(): readonly string[] {
  return SUPPORTED_MODEL_TYPES;
}

function entryFor(config: ModelConfig): RegistryEntry {
  const entry = (REGISTRY as Record<string, RegistryEntry | undefined>)[config.modelType];
  if (!entry) {
    throw new ModelRegistryError(
      "MODEL_UNSUPPORTED",
      `${config.source}: model_type "${config.modelType}" has no model in adaptlm; supported model types: ${SUPPORTED_MODEL_TYPES.join(", ")}`,
    );
  }
  return entry;
}

const MLM_ARCHITECTURE = /(ForMaskedLM|ForPreTraining|WithLMHead)$/;
const MLM_HEAD_TENSORS = [
  "cls.predictions.transform.dense.weight",
  "lm_head.dense.weight",
  "vocab_transform.weight",
];

/** The kinds a config can be built as; the first is what `architectures` (or the checkpoint) asks for. */
export function modelKinds(config: ModelConfig, weights?: TensorSource): ModelKind[] {
  const entry = entryFor(config);
  if (config.family !== "bert") return [...entry.kinds];
  const wantsMlm =
    config.architectures.some((a) => MLM_ARCHITECTURE.test(a)) ||
    (weights !== undefined && MLM_HEAD_TENSORS.some((n) => weights.has(n)));
  return wantsMlm ? ["masked-lm", "encoder"] : ["encoder", "masked-lm"];
}

/** Builds the (randomly initialised) module of the given kind; load its weights with `weightAliases`. */
export function buildModel(
  config: ModelConfig,
  kind: ModelKind,
  options: { pooler?: boolean; seed?: number } = {},
): BuiltModel {
  const entry = entryFor(config);
  if (!entry.kinds.includes(kind)) {
    throw new ModelRegistryError(
      "MODEL_KIND_UNAVAILABLE",
      `${config.source}: a ${config.modelType} model cannot be loaded as ${kind}; it can be: ${entry.kinds.join(", ")}`,
    );
  }
  const seed = options.seed ?? 0;
  if (kind === "causal-lm") {
    const model =
      config.family === "gpt2"
        ? new GPT2LMHeadModel(config, { seed })
        : new LlamaForCausalLM(config, { seed });
    return { kind, model };
  }
  if (kind === "masked-lm") return { kind, model: new BertForMaskedLM(config, { seed }) };
  return { kind, model: new BertModel(config, { seed, pooler: options.pooler ?? true }) };
}

/** Extra checkpoint names to try for a parameter of a model of this config (architecture-specific renames). */
export function weightAliases(config: ModelConfig): ((name: string) => string[]) | undefined {
  const entry = entryFor(config);
  const aliases = entry.aliases;
  if (!aliases) return undefined;
  return (name: string) => aliases(name, config.baseModelPrefix);
}

/** Whether the checkpoint has a pooler for an encoder (BERT-style `pooler.dense.weight`, prefixed or not). */
export function checkpointHasPooler(config: ModelConfig, weights: TensorSource): boolean {
  return weights.has(`${config.baseModelPrefix}.pooler.dense.weight`) || weights.has("pooler.dense.weight");
}
