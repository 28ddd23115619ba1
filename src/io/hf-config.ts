// Hugging Face `config.json` -> one normalised, typed ModelConfig for the three model families adaptlm runs.
//
//   model_type   family  weight prefix   notes
//   bert         bert    bert.           learned absolute positions, token types
//   roberta      bert    roberta.        position ids start at pad_token_id + 1 and skip padding (see below)
//   distilbert   bert    distilbert.     other key names (dim, n_layers, n_heads, hidden_dim); no token types;
//                                        LayerNorm eps fixed at 1e-12 in the modeling code; may use sinusoids
//   gpt2         gpt2    transformer.    n_inner null = 4 * n_embd; Conv1D weights [in, out]
//   llama        llama   model.          RMSNorm, RoPE, SwiGLU, GQA; head_dim defaults to hidden / heads
//   mistral      llama   model.          llama + sliding-window attention
//   qwen2        llama   model.          llama + q/k/v biases (o_proj has none); optional sliding window
//
// Defaults follow each transformers configuration class (configuration_<type>.py) for every field that does
// not define a weight shape. Fields that define weight shapes (hidden size, layers, heads, vocabulary,
// intermediate size) are required: transformers would silently substitute the full-size default (e.g. 4096
// for llama), which can only produce a confusing shape mismatch later, so we name the missing field instead.

import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { AdaptlmError } from "../errors.js";

/** Typed error for config problems. Codes: CONFIG_IO, CONFIG_NOT_JSON, CONFIG_UNKNOWN_MODEL_TYPE,
 * CONFIG_MISSING_FIELD, CONFIG_INVALID_FIELD, CONFIG_UNSUPPORTED. Messages name the file and the field. */
export class ConfigError extends AdaptlmError {}

export const SUPPORTED_MODEL_TYPES = [
  "bert",
  "roberta",
  "distilbert",
  "gpt2",
  "llama",
  "mistral",
  "qwen2",
] as const;
export type SupportedModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

/** The three architectures adaptlm implements; every supported model_type maps to one. */
export type ModelFamily = "bert" | "gpt2" | "llama";

/**
 * Activation of the feed-forward block, normalised: "gelu" = erf form (HF "gelu", "gelu_python"); "gelu_new" =
 * tanh approximation (HF "gelu_new", "gelu_pytorch_tanh", "gelu_fast": the same formula); "silu" (HF "silu",
 * "swish"); "relu"; "quick_gelu" = x * sigmoid(1.702 x).
 */
export type Activation = "gelu" | "gelu_new" | "silu" | "relu" | "quick_gelu";

/** RoPE scaling beyond the plain rotation (linear, dynamic, llama3, yarn, ...); `parameters` holds the raw keys. */
export interface RopeScaling {
  ropeType: string;
  factor: number | null;
  parameters: Readonly<Record<string, unknown>>;
}

/** A normalised model configuration. Fields a family does not use hold the neutral value noted. */
export interface ModelConfig {
  family: ModelFamily;
  modelType: SupportedModelType;
  /** `architectures` from the file, e.g. ["BertForMaskedLM"]; [] when absent. */
  architectures: string[];
  /** Prefix of the backbone's weight names: "bert", "roberta", "distilbert", "transformer" or "model". */
  baseModelPrefix: string;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** Key/value heads (GQA); = numHeads for bert and gpt2. */
  numKvHeads: number;
  /** Per-head size; q projection is [numHeads * headDim, hiddenSize]. */
  headDim: number;
  /** Feed-forward inner size (bert intermediate_size, distilbert hidden_dim, gpt2 n_inner or 4 * n_embd). */
  intermediateSize: number;
  vocabSize: number;
  /** Rows of the position table (learned/sinusoidal) or the trained context length (rope). */
  maxPositions: number;
  norm: "layernorm" | "rmsnorm";
  /** LayerNorm / RMSNorm epsilon. */
  layerNormEps: number;
  act: Activation;
  /** "learned": a position embedding table; "sinusoidal": distilbert's fixed table; "rope": rotary. */
  positionEmbedding: "learned" | "sinusoidal" | "rope";
  /**
   * First position id of a sequence. RoBERTa: pad_token_id + 1 (positions count from padding_idx + 1, so only
   * maxPositions - padTokenId - 1 tokens fit); 0 for every other model.
   */
  positionIdOffset: number;
  /**
   * RoBERTa only: position ids come from the input ids, `cumsum(ids != pad) * (ids != pad) + pad`, i.e. real
   * tokens count up from pad + 1 and padding tokens get position pad_token_id.
   */
  positionIdsFromPadding: boolean;
  /** Token type (segment) vocabulary: 2 for BERT, 1 for RoBERTa checkpoints, 0 = no token type embedding. */
  typeVocabSize: number;
  /** RoPE base frequency; null when the family has no RoPE. */
  ropeTheta: number | null;
  ropeScaling: RopeScaling | null;
  /** q/k/v projections carry biases (bert, gpt2, qwen2 and llama with attention_bias). */
  attentionBias: boolean;
  /** The attention output projection carries a bias (bert, gpt2, llama with attention_bias; not qwen2). */
  attentionOutputBias: boolean;
  /** Feed-forward projections carry biases (bert, gpt2, llama with mlp_bias). */
  mlpBias: boolean;
  /** The LM head (or MLM decoder) shares the input embedding matrix. */
  tieWordEmbeddings: boolean;
  /** Sliding-window attention span in tokens (mistral, qwen2 with use_sliding_window), else null. */
  slidingWindow: number | null;
  /** Layers with index >= this use the sliding window (qwen2 max_window_layers; 0 for mistral). */
  slidingWindowFromLayer: number;
  /** GPT-2: scale attention scores additionally by 1 / (layer index + 1). */
  scaleAttnByInverseLayerIdx: boolean;
  padTokenId: number | null;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  /** Labels of a fine-tuned classification head by index (from id2label), or null. */
  labels: string[] | null;
  /** torch_dtype / dtype recorded in the file ("float32", "bfloat16", ...), or null. */
  torchDtype: string | null;
  /** Where the config came from (for messages). */
  source: string;
  /** The parsed JSON, for fields not normalised here. */
  raw: Readonly<Record<string, unknown>>;
}

type Json = Record<string, unknown>;

/** Reads and parses config.json. `path` may be the file or the model folder holding it. Throws ConfigError. */
export function readHfConfig(path: string): ModelConfig {
  let file = path;
  try {
    if (statSync(path).isDirectory()) file = join(path, "config.json");
  } catch {
    // reported below by readFileSync with the path we tried
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(
      "CONFIG_IO",
      `cannot read model config ${file}: ${error instanceof Error ? error.message : String(error)}. ` +
        "A Hugging Face model folder must contain config.json.",
      { cause: error },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      "CONFIG_NOT_JSON",
      `${file} is not valid JSON (${error instanceof Error ? error.message : String(error)})`,
      { cause: error },
    );
  }
  return parseHfConfig(json, file);
}

/**
 * Normalises a parsed config.json object. `source` names the file in error messages.
 * Throws ConfigError: CONFIG_NOT_JSON (not an object), CONFIG_UNKNOWN_MODEL_TYPE (lists the supported ones),
 * CONFIG_MISSING_FIELD, CONFIG_INVALID_FIELD (wrong type, range or inconsistency, e.g. heads not dividing the
 * hidden size), CONFIG_UNSUPPORTED (valid for transformers but not implemented, e.g. relative positions).
 */
export function parseHfConfig(json: unknown, source = "config.json"): ModelConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ConfigError(
      "CONFIG_NOT_JSON",
      `${source} must hold a JSON object, found ${describeValue(json)}`,
    );
  }
  const raw = json as Json;
  const fields = new FieldReader(raw, source);
  const modelType = raw.model_type;
  if (typeof modelType !== "string" || !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new ConfigError(
      "CONFIG_UNKNOWN_MODEL_TYPE",
      `${source}: model_type ${modelType === undefined ? "is missing" : JSON.stringify(modelType)}; ` +
        `supported model types: ${SUPPORTED_MODEL_TYPES.join(", ")}`,
    );
  }
  const type = modelType as SupportedModelType;
  const config =
    type === "gpt2"
      ? parseGpt2(fields)
      : type === "llama" || type === "mistral" || type === "qwen2"
        ? parseLlamaLike(fields, type)
        : parseBertLike(fields, type);
  checkHeads(config, source);
  return config;
}

function parseBertLike(f: FieldReader, type: "bert" | "roberta" | "distilbert"): ModelConfig {
  const distil = type === "distilbert";
  const hiddenSize = f.requiredInt(distil ? "dim" : "hidden_size", 1);
  const numHeads = f.requiredInt(distil ? "n_heads" : "num_attention_heads", 1);
  const padTokenId = f.specialId("pad_token_id", type === "roberta" ? 1 : 0);
  let positionEmbedding: ModelConfig["positionEmbedding"] = "learned";
  if (distil) {
    if (f.bool("sinusoidal_pos_embds", false)) positionEmbedding = "sinusoidal";
  } else {
    const kind = f.string("position_embedding_type", "absolute");
    if (kind !== "absolute") {
      throw new ConfigError(
        "CONFIG_UNSUPPORTED",
        `${f.source}: position_embedding_type "${kind}" is not supported by adaptlm (only "absolute")`,
      );
    }
  }
  if (type === "roberta" && padTokenId === null) {
    throw new ConfigError(
      "CONFIG_INVALID_FIELD",
      `${f.source}: pad_token_id must be an integer for roberta (position ids are counted from it), found null`,
    );
  }
  return {
    ...common(f, type, "bert"),
    baseModelPrefix: type,
    hiddenSize,
    numLayers: f.requiredInt(distil ? "n_layers" : "num_hidden_layers", 1),
    numHeads,
    numKvHeads: numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize: f.requiredInt(distil ? "hidden_dim" : "intermediate_size", 1),
    vocabSize: f.requiredInt("vocab_size", 1),
    maxPositions: f.int("max_position_embeddings", 512, 1),
    norm: "layernorm",
    // DistilBERT's modeling code hard-codes nn.LayerNorm(dim, eps=1e-12) and has no config field for it.
    layerNormEps: distil ? 1e-12 : f.positiveNumber("layer_norm_eps", 1e-12),
    act: f.activation(distil ? "activation" : "hidden_act", "gelu"),
    positionEmbedding,
    positionIdOffset: type === "roberta" ? (padTokenId as number) + 1 : 0,
    positionIdsFromPadding: type === "roberta",
    typeVocabSize: distil ? 0 : f.int("type_vocab_size", 2, 0),
    ropeTheta: null,
    ropeScaling: null,
    attentionBias: true,
    attentionOutputBias: true,
    mlpBias: true,
    tieWordEmbeddings: f.bool("tie_word_embeddings", true),
    slidingWindow: null,
    slidingWindowFromLayer: 0,
    scaleAttnByInverseLayerIdx: false,
    padTokenId,
    bosTokenId: f.specialId("bos_token_id", type === "roberta" ? 0 : null),
    eosTokenId: f.tokenIds("eos_token_id", type === "roberta" ? 2 : null),
  };
}

function parseGpt2(f: FieldReader): ModelConfig {
  const hiddenSize = f.requiredInt("n_embd", 1);
  const numHeads = f.requiredInt("n_head", 1);
  return {
    ...common(f, "gpt2", "gpt2"),
    baseModelPrefix: "transformer",
    hiddenSize,
    numLayers: f.requiredInt("n_layer", 1),
    numHeads,
    numKvHeads: numHeads,
    headDim: hiddenSize / numHeads,
    // GPT2MLP: inner_dim = n_inner if not None else 4 * hidden_size
    intermediateSize: f.int("n_inner", 4 * hiddenSize, 1),
    vocabSize: f.requiredInt("vocab_size", 1),
    maxPositions: f.int("n_positions", 1024, 1),
    norm: "layernorm",
    layerNormEps: f.positiveNumber("layer_norm_epsilon", 1e-5),
    act: f.activation("activation_function", "gelu_new"),
    positionEmbedding: "learned",
    positionIdOffset: 0,
    positionIdsFromPadding: false,
    typeVocabSize: 0,
    ropeTheta: null,
    ropeScaling: null,
    attentionBias: true,
    attentionOutputBias: true,
    mlpBias: true,
    tieWordEmbeddings: f.bool("tie_word_embeddings", true),
    slidingWindow: null,
    slidingWindowFromLayer: 0,
    scaleAttnByInverseLayerIdx: f.bool("scale_attn_by_inverse_layer_idx", false),
    padTokenId: f.specialId("pad_token_id", null),
    bosTokenId: f.specialId("bos_token_id", 50256),
    eosTokenId: f.tokenIds("eos_token_id", 50256),
  };
}

function parseLlamaLike(f: FieldReader, type: "llama" | "mistral" | "qwen2"): ModelConfig {
  const hiddenSize = f.requiredInt("hidden_size", 1);
  const numHeads = f.requiredInt("num_attention_heads", 1);
  const numLayers = f.requiredInt("num_hidden_layers", 1);
  // Qwen2Config has no head_dim field (always hidden / heads); llama and mistral accept an explicit one.
  const headDim = type === "qwen2" ? hiddenSize / numHeads : f.int("head_dim", hiddenSize / numHeads, 1);
  // MistralConfig: absent -> 8, explicit null -> num_attention_heads; llama/qwen2: both -> num_attention_heads.
  const numKvHeads = f.intAbsentOrNull(
    "num_key_value_heads",
    type === "mistral" ? 8 : numHeads,
    numHeads,
    1,
  )!;
  // Llama: attention_bias covers q, k, v and o; Qwen2 always has q/k/v biases and never an o bias.
  const llamaAttentionBias = type === "llama" ? f.bool("attention_bias", false) : false;
  let slidingWindow: number | null = null;
  let slidingWindowFromLayer = 0;
  // sliding_window: absent -> 4096 (class default), explicit null -> no window (Mistral v0.2+ configs).
  if (type === "mistral") {
    slidingWindow = f.intAbsentOrNull("sliding_window", 4096, null, 1);
  } else if (type === "qwen2" && f.bool("use_sliding_window", false)) {
    slidingWindow = f.intAbsentOrNull("sliding_window", 4096, null, 1);
    slidingWindowFromLayer = f.int("max_window_layers", 28, 0);
  }
  const defaultMaxPositions = type === "llama" ? 2048 : type === "mistral" ? 4096 * 32 : 32768;
  const rope = f.rope();
  return {
    ...common(f, type, "llama"),
    baseModelPrefix: "model",
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: f.requiredInt("intermediate_size", 1),
    vocabSize: f.requiredInt("vocab_size", 1),
    maxPositions: f.int("max_position_embeddings", defaultMaxPositions, 1),
    norm: "rmsnorm",
    layerNormEps: f.positiveNumber("rms_norm_eps", 1e-6),
    act: f.activation("hidden_act", "silu"),
    positionEmbedding: "rope",
    positionIdOffset: 0,
    positionIdsFromPadding: false,
    typeVocabSize: 0,
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    attentionBias: type === "qwen2" ? true : llamaAttentionBias,
    attentionOutputBias: llamaAttentionBias,
    mlpBias: type === "llama" ? f.bool("mlp_bias", false) : false,
    tieWordEmbeddings: f.bool("tie_word_embeddings", false),
    slidingWindow,
    slidingWindowFromLayer,
    scaleAttnByInverseLayerIdx: false,
    padTokenId: f.specialId("pad_token_id", null),
    bosTokenId: f.specialId("bos_token_id", type === "qwen2" ? null : 1),
    eosTokenId: f.tokenIds("eos_token_id", type === "qwen2" ? null : 2),
  };
}

/** Fields every family shares. */
function common(
  f: FieldReader,
  modelType: SupportedModelType,
  family: ModelFamily,
): Pick<ModelConfig, "family" | "modelType" | "architectures" | "labels" | "torchDtype" | "source" | "raw"> {
  return {
    family,
    modelType,
    architectures: f.stringList("architectures"),
    labels: f.labels(),
    torchDtype: f.nullableString("torch_dtype") ?? f.nullableString("dtype"),
    source: f.source,
    raw: Object.freeze({ ...f.raw }),
  };
}

function checkHeads(config: ModelConfig, source: string): void {
  const headsKey =
    config.modelType === "distilbert"
      ? "n_heads"
      : config.modelType === "gpt2"
        ? "n_head"
        : "num_attention_heads";
  if (!Number.isInteger(config.headDim)) {
    throw new ConfigError(
      "CONFIG_INVALID_FIELD",
      `${source}: hidden size ${config.hiddenSize} is not a multiple of ${headsKey} ${config.numHeads}`,
    );
  }
  if (config.numHeads % config.numKvHeads !== 0) {
    throw new ConfigError(
      "CONFIG_INVALID_FIELD",
      `${source}: num_attention_heads ${config.numHeads} is not a multiple of num_key_value_heads ${config.numKvHeads}`,
    );
  }
  if (config.positionEmbedding === "rope" && config.headDim % 2 !== 0) {
    throw new ConfigError(
      "CONFIG_INVALID_FIELD",
      `${source}: head_dim ${config.headDim} must be even for rotary embeddings`,
    );
  }
}

const ACTIVATIONS: Readonly<Record<string, Activation>> = {
  gelu: "gelu",
  gelu_python: "gelu",
  gelu_new: "gelu_new",
  gelu_pytorch_tanh: "gelu_new",
  gelu_fast: "gelu_new",
  silu: "silu",
  swish: "silu",
  relu: "relu",
  quick_gelu: "quick_gelu",
};

/** Reads typed fields of one config object; JSON null counts as absent (transformers' None). */
export class FieldReader {
  constructor(
    readonly raw: Json,
    readonly source: string,
  ) {}

  private present(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  private invalid(key: string, expected: string): ConfigError {
    return new ConfigError(
      "CONFIG_INVALID_FIELD",
      `${this.source}: "${key}" must be ${expected}, found ${describeValue(this.raw[key])}`,
    );
  }

  requiredInt(key: string, min: number): number {
    if (!this.present(key)) {
      throw new ConfigError(
        "CONFIG_MISSING_FIELD",
        `${this.source}: required field "${key}" (an integer >= ${min}) is missing or null; it defines weight shapes, so it must be given`,
      );
    }
    return this.int(key, 0, min);
  }

  int(key: string, fallback: number, min: number): number {
    if (!this.present(key)) return fallback;
    const value = this.raw[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
      throw this.invalid(key, `an integer >= ${min}`);
    }
    return value;
  }

  optionalInt(key: string, fallback: number | null, min = 0): number | null {
    if (!this.present(key)) return fallback;
    return this.int(key, 0, min);
  }

  /**
   * For fields where transformers distinguishes an absent key (class default) from an explicit null (None,
   * with its own meaning): returns `ifAbsent` when the key is missing, `ifNull` when it is null.
   */
  intAbsentOrNull(key: string, ifAbsent: number | null, ifNull: number | null, min: number): number | null {
    if (this.raw[key] === undefined) return ifAbsent;
    if (this.raw[key] === null) return ifNull;
    return this.int(key, 0, min);
  }

  /** A special token id; some older configs write -1 for "none", which becomes null. */
  specialId(key: string, fallback: number | null): number | null {
    if (this.present(key) && typeof this.raw[key] === "number" && (this.raw[key] as number) < 0) {
      if (!Number.isSafeInteger(this.raw[key])) throw this.invalid(key, "an integer");
      return null;
    }
    return this.optionalInt(key, fallback);
  }

  /** eos_token_id: one id or a list of ids. */
  tokenIds(key: string, fallback: number | null): number | number[] | null {
    if (!this.present(key)) return fallback;
    const value = this.raw[key];
    if (Array.isArray(value)) {
      if (!value.every((id) => Number.isSafeInteger(id) && id >= 0)) {
        throw this.invalid(key, "a non-negative integer or a list of them");
      }
      return [...(value as number[])];
    }
    return this.specialId(key, fallback);
  }

  positiveNumber(key: string, fallback: number): number {
    if (!this.present(key)) return fallback;
    const value = this.raw[key];
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0)
      throw this.invalid(key, "a positive number");
    return value;
  }

  bool(key: string, fallback: boolean): boolean {
    if (!this.present(key)) return fallback;
    const value = this.raw[key];
    if (typeof value !== "boolean") throw this.invalid(key, "true or false");
    return value;
  }

  string(key: string, fallback: string): string {
    if (!this.present(key)) return fallback;
    const value = this.raw[key];
    if (typeof value !== "string") throw this.invalid(key, "a string");
    return value;
  }

  nullableString(key: string): string | null {
    return this.present(key) ? this.string(key, "") : null;
  }

  stringList(key: string): string[] {
    if (!this.present(key)) return [];
    const value = this.raw[key];
    if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
      throw this.invalid(key, "a list of strings");
    }
    return [...(value as string[])];
  }

  activation(key: string, fallback: Activation): Activation {
    if (!this.present(key)) return fallback;
    const name = this.string(key, "");
    const act = ACTIVATIONS[name];
    if (act === undefined || !Object.hasOwn(ACTIVATIONS, name)) {
      throw new ConfigError(
        "CONFIG_UNSUPPORTED",
        `${this.source}: ${key} "${name}" is not supported; supported: ${Object.keys(ACTIVATIONS).join(", ")}`,
      );
    }
    return act;
  }

  /** id2label {"0": "NEGATIVE", "1": "POSITIVE"} -> ["NEGATIVE", "POSITIVE"]; null when absent. */
  labels(): string[] | null {
    if (!this.present("id2label")) return null;
    const value = this.raw.id2label;
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw this.invalid("id2label", "an object");
    const entries = Object.entries(value as Json);
    const labels: string[] = new Array(entries.length);
    for (const [key, label] of entries) {
      const index = Number(key);
      if (!Number.isInteger(index) || index < 0 || index >= entries.length || typeof label !== "string") {
        throw this.invalid("id2label", `an object {"0": "<label>", ...} with keys 0..${entries.length - 1}`);
      }
      labels[index] = label;
    }
    return labels;
  }

  /**
   * RoPE base and scaling from either layout: older configs have top-level `rope_theta` and `rope_scaling`
   * ({"type" | "rope_type": ..., "factor": ...}); transformers >= 4.57 writes `rope_parameters`
   * ({"rope_type": "default", "rope_theta": ...}). rope_type "default" means no scaling.
   */
  rope(): { theta: number; scaling: RopeScaling | null } {
    let parameters: Json | null = null;
    for (const key of ["rope_parameters", "rope_scaling"]) {
      if (!this.present(key)) continue;
      const value = this.raw[key];
      if (typeof value !== "object" || value === null || Array.isArray(value))
        throw this.invalid(key, "an object");
      parameters = { ...(parameters ?? {}), ...(value as Json) };
    }
    let theta = this.positiveNumber("rope_theta", 10000);
    if (parameters !== null && parameters.rope_theta !== undefined && parameters.rope_theta !== null) {
      const value = parameters.rope_theta;
      if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
        throw this.invalid("rope_parameters", "an object whose rope_theta is a positive number");
      }
      theta = value;
    }
    if (parameters === null) return { theta, scaling: null };
    const ropeType = parameters.rope_type ?? parameters.type ?? "default";
    if (typeof ropeType !== "string")
      throw this.invalid("rope_scaling", 'an object with a string "rope_type"');
    if (ropeType === "default") return { theta, scaling: null };
    const factor = parameters.factor;
    if (factor !== undefined && factor !== null && (typeof factor !== "number" || !(factor > 0))) {
      throw this.invalid("rope_scaling", "an object whose factor is a positive number");
    }
    return {
      theta,
      scaling: {
        ropeType,
        factor: typeof factor === "number" ? factor : null,
        parameters: Object.freeze({ ...parameters }),
      },
    };
  }
}

function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 60 ? `${text.slice(0, 60)}...` : text}`;
}
