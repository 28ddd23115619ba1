// Pretraining from scratch: a model built from an HF config.json object, trained on raw texts with either the
// masked-LM objective (BERT) or next-token prediction (Llama-style decoders), written as a Hugging Face model
// folder that loadLocalModel and Python transformers both load.
//
// Data, as transformers' run_mlm / run_clm group_texts: every text is tokenized once, the documents are
// concatenated with a separator (decoder: EOS after each document; encoder: [SEP] after each document and
// [CLS] at the start of each block) and the stream is cut into fixed blocks of seqLen tokens (the tail that
// does not fill a block is dropped). Blocks are shuffled each epoch with a seed; an epoch's last partial batch
// is dropped so every step sees batchSize full blocks.
//
// Determinism and resume: the shuffle of epoch e and the masks of step s come from Rngs seeded by
// (seed, e) and (seed, s), not from one running generator, so the whole data order is a function of the step
// alone and a checkpoint needs only the weights, the AdamW moments and the step. A resumed run therefore takes
// exactly the steps an uninterrupted run would take, and ends with the same weights.
//
// Schedule: linear warm-up from 0, then cosine decay to minLearningRateRatio of the peak (transformers'
// cosine_with_min_lr); AdamW with no weight decay on biases and norm gains; global gradient clipping.
//
// Output folder: config.json, model.safetensors (f32 or f16), the tokenizer files, README.md (a model card),
// training_log.jsonl, and checkpoint/ (pretrain_state.json naming state-<step>.safetensors, written after it).

import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { AdaptlmError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic-file.js";
import { type ModelConfig, parseHfConfig } from "../io/hf-config.js";
import { openModelWeights } from "../io/model-weights.js";
import { readSafetensors, type TensorToWrite, writeSafetensors } from "../io/safetensors.js";
import { BertForMaskedLM } from "../models/bert.js";
import { loadWeights } from "../models/load-weights.js";
import { buildModel, weightAliases } from "../models/registry.js";
import type { Module } from "../nn/module.js";
import { AdamW } from "../optim/adamw.js";
import { clipGradNorm } from "../optim/clip.js";
import { weightDecayGroups } from "../optim/optimizer.js";
import { noGrad } from "../tensor/grad-mode.js";
import * as T from "../tensor/index.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { readRecords } from "./dataset.js";
import { type RepeatedSequenceLoss, repeatedSequenceLoss } from "./induction-probe.js";
import { MLM_IGNORE_LABEL, maskTokens } from "./mlm-masking.js";

/**
 * Codes: BAD_OPTION, TOKENIZER_MISMATCH, NOT_ENOUGH_DATA, CHECKPOINT_EXISTS, CHECKPOINT_MISMATCH, NON_FINITE_LOSS.
 */
export class PretrainError extends AdaptlmError {}

export type PretrainObjective = "mlm" | "clm";

export type PretrainEvent =
  | {
      type: "data";
      trainTokens: number;
      validationTokens: number;
      trainBlocks: number;
      validationBlocks: number;
    }
  | { type: "resumed"; step: number }
  | {
      type: "step";
      step: number;
      totalSteps: number;
      loss: number;
      learningRate: number;
      gradNorm: number;
      tokensPerSecond: number;
      elapsedSeconds: number;
      etaSeconds: number;
    }
  | {
      type: "eval";
      step: number;
      loss: number;
      perplexity: number;
      /** Causal LMs: next-token loss on repeated random sequences (see induction-probe.ts). */
      repeatedSequence?: RepeatedSequenceLoss;
    }
  | { type: "checkpoint"; step: number; dir: string }
  | { type: "saved"; dir: string; dtype: "f32" | "f16"; bytes: number }
  | { type: "aborted"; step: number };

export interface PretrainOptions {
  /** An HF config.json object (model_type bert or llama, ...); vocab_size must cover the tokenizer. */
  config: Record<string, unknown>;
  /** Default: "mlm" for BERT-family configs, "clm" otherwise. */
  objective?: PretrainObjective;
  tokenizer: Tokenizer;
  /** Files written next to the model (file name -> text, or an object written as JSON), e.g. tokenizer.json. */
  tokenizerFiles?: Readonly<Record<string, string | object>>;
  trainTexts: readonly string[];
  validationTexts?: readonly string[];
  outputDir: string;
  seqLen: number;
  batchSize: number;
  /** Optimizer steps of the whole run. */
  steps: number;
  learningRate: number;
  /** Default: 5% of the steps. */
  warmupSteps?: number;
  /** The cosine decays to this share of the peak learning rate. Default 0.1. */
  minLearningRateRatio?: number;
  /** Default 0.01 (not applied to biases and norm weights). */
  weightDecay?: number;
  /** Default [0.9, 0.999] for mlm (BERT), [0.9, 0.95] for clm. */
  betas?: [number, number];
  eps?: number;
  /** Clip the global gradient norm to this (0: no clipping). Default 1. */
  maxGradNorm?: number;
  /** Validate every N steps (and at the end). Default: steps / 10. */
  evalEvery?: number;
  /** Validation blocks used (the first ones, fixed). Default 64. */
  evalBlocks?: number;
  /** Checkpoint every N steps (and at the end). Default: evalEvery. */
  checkpointEvery?: number;
  /** Write a step record to training_log.jsonl every N steps. Default 10. */
  logEvery?: number;
  /** Seed of initialisation, shuffling and masking. Default 42. */
  seed?: number;
  /** Continue from outputDir/checkpoint when there is one. Default false: start afresh. */
  resume?: boolean;
  /**
   * A model folder (or safetensors file) whose weights replace the random initialisation: continued, e.g.
   * domain-adaptive, pretraining. Every parameter of `config`'s model must be in it, with its shape.
   */
  initFrom?: string;
  /** Stored dtype of model.safetensors. Default "f32". */
  dtype?: "f32" | "f16";
  /** Default 0.15. */
  mlmProbability?: number;
  /** Checked after every step: when aborted, a checkpoint is written and the run returns early. */
  signal?: AbortSignal;
  onEvent?: (event: PretrainEvent) => void;
  /** Extra text for the model card. */
  card?: { title?: string; data?: string; recipe?: string };
}

export interface PretrainResult {
  outputDir: string;
  /** The trained module (in memory, float32). */
  model: Module;
  steps: number;
  /** false when stopped by the signal before the last step (no model folder is written then). */
  completed: boolean;
  parameters: number;
  /** Mean training loss of the last (up to) 20 steps. */
  finalTrainLoss: number | null;
  validationLoss: number | null;
  validationPerplexity: number | null;
  /** Training seconds over every session of the run (resumes included). */
  trainingSeconds: number;
  trainTokens: number;
}

interface PretrainState {
  step: number;
  file: string;
  seed: number;
  seqLen: number;
  batchSize: number;
  trainBlocks: number;
  elapsedSeconds: number;
  recentLosses: number[];
}

const STATE_FILE = "pretrain_state.json";
const LOG_FILE = "training_log.jsonl";
const RECENT = 20;

/** Tokenized texts cut into blocks: `ids` holds `count` rows of seqLen tokens. */
export interface PackedBlocks {
  ids: Int32Array;
  count: number;
  seqLen: number;
  /** Tokens of the concatenated stream (separators included). */
  tokens: number;
}

/**
 * Tokenizes each text once (no template specials), joins the documents with the separator and cuts the
 * stream into blocks of seqLen. mlm: [CLS] + seqLen - 1 stream tokens per block, [SEP] between documents;
 * clm: seqLen stream tokens per block, EOS after each document.
 */
export function packBlocks(
  texts: readonly string[],
  tokenizer: Tokenizer,
  objective: PretrainObjective,
  seqLen: number,
): PackedBlocks {
  const specials = objectiveSpecials(tokenizer, objective);
  const pieces: number[][] = [];
  let tokens = 0;
  for (const text of texts) {
    if (text.trim() === "") continue;
    const ids = tokenizer.encode(text, { addSpecialTokens: false }).ids;
    ids.push(specials.separator);
    pieces.push(ids);
    tokens += ids.length;
  }
  const prefix = specials.blockStart === null ? 0 : 1;
  const perBlock = seqLen - prefix;
  const count = Math.floor(tokens / perBlock);
  const ids = new Int32Array(count * seqLen);
  let block = 0;
  let filled = 0;
  const startBlock = () => {
    if (specials.blockStart !== null) ids[block * seqLen] = specials.blockStart;
  };
  if (count > 0) startBlock();
  outer: for (const piece of pieces) {
    for (const id of piece) {
      ids[block * seqLen + prefix + filled] = id;
      filled++;
      if (filled === perBlock) {
        block++;
        filled = 0;
        if (block === count) break outer;
        startBlock();
      }
    }
  }
  return { ids, count, seqLen, tokens };
}

function objectiveSpecials(
  tokenizer: Tokenizer,
  objective: PretrainObjective,
): { separator: number; blockStart: number | null } {
  if (objective === "clm") {
    const eos = tokenizer.eosTokenId;
    if (eos === undefined) {
      throw new PretrainError(
        "TOKENIZER_MISMATCH",
        "causal-LM pretraining separates documents with EOS, but the tokenizer has no EOS token; add one (e.g. <|endoftext|> or </s>)",
      );
    }
    return { separator: eos, blockStart: null };
  }
  const { clsTokenId, sepTokenId, maskTokenId } = tokenizer;
  if (clsTokenId === undefined || sepTokenId === undefined || maskTokenId === undefined) {
    throw new PretrainError(
      "TOKENIZER_MISMATCH",
      `masked-LM pretraining needs [CLS], [SEP] and [MASK] tokens; the tokenizer has cls ${clsTokenId}, sep ${sepTokenId}, mask ${maskTokenId}`,
    );
  }
  return { separator: sepTokenId, blockStart: clsTokenId };
}

/**
 * Documents of text files for pretraining: .txt (documents separated by blank lines), or .jsonl / .json /
 * .csv / .tsv records whose `textField` holds the document.
 */
export function readTextDocuments(paths: readonly string[], textField = "text"): string[] {
  const documents: string[] = [];
  for (const path of paths) {
    if (/\.(txt|md)$/i.test(path)) {
      if (!existsSync(path)) throw new PretrainError("BAD_OPTION", `text file ${path} does not exist`);
      for (const part of readFileSync(path, "utf8").split(/\r?\n\s*\r?\n/)) {
        const text = part.trim();
        if (text !== "") documents.push(text);
      }
      continue;
    }
    for (const [n, record] of readRecords(path).entries()) {
      const text = record[textField];
      if (typeof text !== "string") {
        throw new PretrainError(
          "BAD_OPTION",
          `${path}: record ${n + 1} has no string field "${textField}" (fields: ${Object.keys(record).join(", ")}); choose the field holding the text`,
        );
      }
      if (text.trim() !== "") documents.push(text);
    }
  }
  return documents;
}

/** Holds out every round(1 / fraction)-th document for validation (deterministic, spread over the data). */
export function splitForValidation(
  documents: readonly string[],
  fraction: number,
): { train: string[]; validation: string[] } {
  if (!(fraction > 0 && fraction < 1))
    throw new PretrainError("BAD_OPTION", `validation fraction must lie in (0, 1), got ${fraction}`);
  const every = Math.max(2, Math.round(1 / fraction));
  const train: string[] = [];
  const validation: string[] = [];
  documents.forEach((doc, i) => {
    (i % every === every - 1 ? validation : train).push(doc);
  });
  return { train, validation };
}

const TOKENIZER_FILE_NAMES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "vocab.txt",
  "vocab.json",
  "merges.txt",
];

/** The tokenizer files of a folder (or one tokenizer file), as texts to write next to a model. */
export function tokenizerFilesOf(path: string): Record<string, string> {
  const files: Record<string, string> = {};
  if (!existsSync(path)) throw new PretrainError("BAD_OPTION", `tokenizer ${path} does not exist`);
  const isDir = statSync(path).isDirectory();
  const candidates = isDir ? TOKENIZER_FILE_NAMES.map((n) => join(path, n)) : [path];
  for (const file of candidates) if (existsSync(file)) files[basename(file)] = readFileSync(file, "utf8");
  return files;
}

/** Copies every parameter of `model` from the checkpoint at `path` (strict: none may be missing). */
function loadInitialWeights(model: Module, config: ModelConfig, path: string): void {
  if (!existsSync(path)) {
    throw new PretrainError("INIT_NOT_FOUND", `initial weights ${path} do not exist (give a model folder)`);
  }
  const { weights } = openModelWeights(path);
  try {
    const aliases = weightAliases(config);
    loadWeights(model, weights, { prefix: config.baseModelPrefix, ...(aliases ? { aliases } : {}) });
  } finally {
    weights.close();
  }
}

/** A 32-bit seed for stream `stream`, item `index` of a run seeded `seed` (murmur3's finaliser). */
export function derivedSeed(seed: number, stream: number, index: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul(stream + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f);
  h ^= Math.imul(index + 1, 0x165667b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

const SHUFFLE_STREAM = 1;
const MASK_STREAM = 2;
const VALIDATION_MASK_STREAM = 3;

/**
 * The masked-LM loss with only the selected positions (targets not -100) going through the prediction head,
 * gathered from the encoder output: the same loss and gradients as transformers' full-sequence head at a
 * fraction of the [tokens, vocab] work. inputIds [batch, seq]; targets [batch * seq].
 */
export function maskedLmLoss(model: BertForMaskedLM, inputIds: T.Tensor, targets: Int32Array): T.Tensor {
  const positions: number[] = [];
  const labels: number[] = [];
  targets.forEach((t, i) => {
    if (t !== MLM_IGNORE_LABEL) {
      positions.push(i);
      labels.push(t);
    }
  });
  if (positions.length === 0)
    return T.crossEntropy(model.forward({ inputIds }), T.tensor(targets, inputIds.shape, "int32"));
  const hidden = model.bert.forward({ inputIds }).lastHiddenState; // [batch, seq, hidden]
  const [batch, seq, width] = hidden.shape;
  const flat = T.reshape(hidden, [batch * seq, width]);
  const picked = T.embedding(flat, T.tensor(positions, [positions.length], "int32")); // [selected, hidden]
  const head = (model.getModule("cls") as Module).getModule("predictions") as unknown as {
    forward(h: T.Tensor): T.Tensor;
  };
  return T.crossEntropy(head.forward(picked), T.tensor(labels, [labels.length], "int32"));
}

/** Learning rate at `step` (0-based): linear warm-up from 0, then cosine from the peak to minRatio * peak. */
export function pretrainLearningRate(
  step: number,
  options: { peak: number; warmupSteps: number; totalSteps: number; minRatio: number },
): number {
  const { peak, warmupSteps, totalSteps, minRatio } = options;
  if (step < warmupSteps) return (peak * step) / Math.max(1, warmupSteps);
  const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
  return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** The HF config.json written next to the weights: the given keys plus architectures, ids and dtype. */
export function outputConfig(
  raw: Readonly<Record<string, unknown>>,
  objective: PretrainObjective,
  tokenizer: Tokenizer,
  dtype: "f32" | "f16",
): Record<string, unknown> {
  const config: Record<string, unknown> = { ...raw };
  const family = parseHfConfig(raw, "pretraining config").family;
  if (config.architectures === undefined) {
    config.architectures = [
      objective === "mlm"
        ? "BertForMaskedLM"
        : family === "gpt2"
          ? "GPT2LMHeadModel"
          : `${familyClassPrefix(String(raw.model_type))}ForCausalLM`,
    ];
  }
  const ids: Record<string, number | undefined> =
    objective === "mlm"
      ? { pad_token_id: tokenizer.padTokenId }
      : {
          bos_token_id: tokenizer.bosTokenId,
          eos_token_id: tokenizer.eosTokenId,
          pad_token_id: tokenizer.padTokenId,
        };
  for (const [key, value] of Object.entries(ids)) if (value !== undefined) config[key] = value;
  config.torch_dtype = dtype === "f16" ? "float16" : "float32";
  config.adaptlm_version = adaptlmVersion();
  return config;
}

function familyClassPrefix(modelType: string): string {
  return { llama: "Llama", mistral: "Mistral", qwen2: "Qwen2" }[modelType] ?? "Llama";
}

/** The package version, for the config and the model card. */
export function adaptlmVersion(): string {
  try {
    // dist/src/train/pretrain.js -> <repo>/package.json
    const json = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8"));
    return typeof json.version === "string" ? json.version : "unknown";
  } catch {
    return "unknown";
  }
}

/** Parameters counted once (tied matrices once). */
function countParameters(model: Module): number {
  return model.namedParameters().reduce((total, [, p]) => total + p.size, 0);
}

/** Trains, checkpoints and writes the model folder; see the file comment. */
export function pretrain(options: PretrainOptions): PretrainResult {
  const steps = pretrainSteps(options);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/**
 * pretrain that yields to the event loop after every optimizer step, so that a SIGINT handler (or a timer,
 * or a server) runs while it trains: a synchronous run would only see the signal after its last step.
 */
export async function pretrainAsync(options: PretrainOptions): Promise<PretrainResult> {
  const steps = pretrainSteps(options);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The training run, one yield per optimizer step; the return value is pretrain's result. */
export function* pretrainSteps(options: PretrainOptions): Generator<void, PretrainResult, void> {
  const o = options;
  const config = parseHfConfig(o.config, "pretraining config");
  const objective: PretrainObjective = o.objective ?? (config.family === "bert" ? "mlm" : "clm");
  checkOptions(o, config, objective);
  const seed = o.seed ?? 42;
  const batchSize = o.batchSize;
  const seqLen = o.seqLen;
  const totalSteps = o.steps;
  const evalEvery = o.evalEvery ?? Math.max(1, Math.floor(totalSteps / 10));
  const checkpointEvery = o.checkpointEvery ?? evalEvery;
  const logEvery = o.logEvery ?? 10;
  const warmupSteps = o.warmupSteps ?? Math.floor(0.05 * totalSteps);
  const minRatio = o.minLearningRateRatio ?? 0.1;
  const dtype = o.dtype ?? "f32";
  const tokenizer = o.tokenizer;
  const emit = (event: PretrainEvent) => o.onEvent?.(event);
  const outputDir = o.outputDir;
  const checkpointDir = join(outputDir, "checkpoint");
  const logPath = join(outputDir, LOG_FILE);
  mkdirSync(outputDir, { recursive: true });

  const train = packBlocks(o.trainTexts, tokenizer, objective, seqLen);
  const validation = packBlocks(o.validationTexts ?? [], tokenizer, objective, seqLen);
  const batchesPerEpoch = Math.floor(train.count / batchSize);
  if (batchesPerEpoch === 0) {
    throw new PretrainError(
      "NOT_ENOUGH_DATA",
      `the training texts make ${train.count} blocks of ${seqLen} tokens (${train.tokens} tokens), fewer than one batch of ${batchSize}: give more text or lower seqLen / batchSize`,
    );
  }
  emit({
    type: "data",
    trainTokens: train.tokens,
    validationTokens: validation.tokens,
    trainBlocks: train.count,
    validationBlocks: validation.count,
  });

  const specialIds = new Set<number>();
  for (const special of Object.values(tokenizer.specialTokens)) if (special) specialIds.add(special.id);
  const masking = {
    maskTokenId: tokenizer.maskTokenId ?? -1,
    vocabSize: tokenizer.vocabSize,
    specialIds,
    mlmProbability: o.mlmProbability ?? 0.15,
  };
  /** Model inputs and loss targets of rows of blocks; `maskSeed` seeds the MLM masking. */
  const inputsAndTargets = (
    ids: Int32Array,
    maskSeed: number,
  ): { inputs: Int32Array; targets: Int32Array } => {
    if (objective === "mlm") {
      const masked = maskTokens(ids, new T.Rng(maskSeed), masking);
      return { inputs: masked.inputIds, targets: masked.labels };
    }
    // Next-token targets within each block: position t predicts t + 1; the last position has no target.
    const targets = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) targets[i] = (i + 1) % seqLen === 0 ? MLM_IGNORE_LABEL : ids[i + 1];
    return { inputs: ids, targets };
  };

  const built = buildModel(config, objective === "mlm" ? "masked-lm" : "causal-lm", { seed });
  if (o.initFrom !== undefined) loadInitialWeights(built.model, config, o.initFrom);
  const model = built.model as Module & { forward(inputs: { inputIds: T.Tensor }): T.Tensor };
  model.setRequiresGrad(true);
  const params = model.namedParameters();
  const parameterTensors = params.map(([, p]) => p);
  const optimizer = new AdamW(weightDecayGroups(model, o.weightDecay ?? 0.01), {
    lr: o.learningRate,
    beta1: o.betas?.[0] ?? 0.9,
    beta2: o.betas?.[1] ?? (objective === "mlm" ? 0.999 : 0.95),
    eps: o.eps ?? 1e-8,
  });

  /** Mean cross-entropy over the targets that are not ignored. */
  const lossOf = (inputs: Int32Array, targets: Int32Array, rows: number): T.Tensor => {
    const inputIds = T.tensor(inputs, [rows, seqLen], "int32");
    if (objective === "clm" || !(model instanceof BertForMaskedLM)) {
      const logits = model.forward({ inputIds }); // [rows, seq, vocab]
      return T.crossEntropy(logits, T.tensor(targets, [rows, seqLen], "int32"));
    }
    return maskedLmLoss(model, inputIds, targets);
  };

  let state: PretrainState = {
    step: 0,
    file: "",
    seed,
    seqLen,
    batchSize,
    trainBlocks: train.count,
    elapsedSeconds: 0,
    recentLosses: [],
  };
  const statePath = join(checkpointDir, STATE_FILE);
  if (o.resume && existsSync(statePath)) {
    state = restore(statePath);
    truncateLog(logPath, state.step);
    emit({ type: "resumed", step: state.step });
    appendLog(logPath, { type: "resumed", step: state.step });
  } else if (existsSync(statePath)) {
    // Refuse rather than silently overwrite what may be an hour of training.
    throw new PretrainError(
      "CHECKPOINT_EXISTS",
      `${checkpointDir} holds a checkpoint of an earlier run: pass resume (--resume) to continue it, or delete that folder (or choose another output folder) to start afresh`,
    );
  } else {
    rmSync(logPath, { force: true });
  }

  function restore(path: string): PretrainState {
    const saved = JSON.parse(readFileSync(path, "utf8")) as PretrainState;
    for (const key of ["seed", "seqLen", "batchSize", "trainBlocks"] as const) {
      if (saved[key] !== state[key]) {
        throw new PretrainError(
          "CHECKPOINT_MISMATCH",
          `the checkpoint in ${checkpointDir} was written with ${key} ${saved[key]}, this run has ${state[key]}: resume with the same seed, data and recipe, or start afresh without resume`,
        );
      }
    }
    const tensors = readSafetensors(join(checkpointDir, saved.file)).tensors;
    noGrad(() => {
      for (const [name, p] of params) {
        const value = tensors.get(`param.${name}`);
        if (!value || value.data.length !== p.size) {
          throw new PretrainError(
            "CHECKPOINT_MISMATCH",
            `checkpoint ${join(checkpointDir, saved.file)} lacks ${name} of ${p.size} values: it was written for another model; start afresh without resume`,
          );
        }
        p.floats.set(value.data as Float32Array);
        const m = tensors.get(`m.${name}`);
        const v = tensors.get(`v.${name}`);
        if (m && v) optimizer.setMomentsOf(p, m.data as Float32Array, v.data as Float32Array);
      }
    });
    optimizer.stepCount = saved.step;
    return saved;
  }

  function checkpoint(elapsed: number): void {
    mkdirSync(checkpointDir, { recursive: true });
    const tensors = new Map<string, TensorToWrite>();
    for (const [name, p] of params) {
      tensors.set(`param.${name}`, {
        shape: [...p.shape],
        data: Float32Array.from(p.floats.subarray(0, p.size)),
      });
      const moments = optimizer.momentsOf(p);
      if (moments) {
        tensors.set(`m.${name}`, { shape: [...p.shape], data: moments.m.subarray(0, p.size) });
        tensors.set(`v.${name}`, { shape: [...p.shape], data: moments.v.subarray(0, p.size) });
      }
    }
    const file = `state-${state.step}.safetensors`;
    writeSafetensors(join(checkpointDir, file), tensors, { step: String(state.step) });
    const previous = state.file;
    state.file = file;
    state.elapsedSeconds = elapsed;
    writeFileAtomic(statePath, `${JSON.stringify(state, null, 2)}\n`);
    if (previous && previous !== file) rmSync(join(checkpointDir, previous), { force: true });
    emit({ type: "checkpoint", step: state.step, dir: checkpointDir });
    appendLog(logPath, { type: "checkpoint", step: state.step });
  }

  // The validation set is fixed: the first evalBlocks blocks, masked once with a seed of their own.
  const validationCount = Math.min(validation.count, o.evalBlocks ?? 64);
  const validationData = inputsAndTargets(
    validation.ids.subarray(0, validationCount * seqLen),
    derivedSeed(seed, VALIDATION_MASK_STREAM, 0),
  );
  function evaluate(): { loss: number; perplexity: number } | null {
    if (validationCount === 0) return null;
    let lossSum = 0;
    let counted = 0;
    model.eval();
    try {
      for (let start = 0; start < validationCount; start += batchSize) {
        const rows = Math.min(batchSize, validationCount - start);
        const inputs = validationData.inputs.subarray(start * seqLen, (start + rows) * seqLen);
        const targets = validationData.targets.subarray(start * seqLen, (start + rows) * seqLen);
        let n = 0;
        for (const t of targets) if (t !== MLM_IGNORE_LABEL) n++;
        if (n === 0) continue;
        const loss = T.scope(() =>
          noGrad(() => {
            return lossOf(inputs, targets, rows).item();
          }),
        );
        lossSum += loss * n;
        counted += n;
      }
    } finally {
      model.train();
    }
    if (counted === 0) return null;
    const loss = lossSum / counted;
    return { loss, perplexity: Math.exp(loss) };
  }
  /** The same random sequences at every evaluation of every run (seed 0), so the numbers compare. */
  const probeLength = Math.min(24, Math.floor(Math.min(seqLen, config.maxPositions) / 2));
  const repeatedSequenceProbe = (): RepeatedSequenceLoss | undefined => {
    if (probeLength < 2) return undefined;
    model.eval();
    try {
      return repeatedSequenceLoss(model, { vocabSize: config.vocabSize, length: probeLength, seed: 0 });
    } finally {
      model.train();
    }
  };
  const runEval = (): { loss: number; perplexity: number } | null => {
    let result: { loss: number; perplexity: number } | null;
    try {
      result = evaluate();
    } catch (error) {
      if (!(error instanceof T.NonFiniteError)) throw error;
      throw new PretrainError(
        "NON_FINITE_LOSS",
        `validation loss is not finite after step ${state.step} (${error.message}): training diverged; lower the learning rate; ${state.file ? `the last checkpoint (${state.file}) is kept in ${checkpointDir}` : "no checkpoint was written yet"}`,
        { cause: error },
      );
    }
    if (result) {
      const probe = objective === "clm" ? repeatedSequenceProbe() : undefined;
      const record = {
        type: "eval" as const,
        step: state.step,
        ...result,
        ...(probe ? { repeatedSequence: probe } : {}),
      };
      emit(record);
      appendLog(logPath, record);
    }
    return result;
  };

  const orders = new Map<number, Uint32Array>();
  const orderOf = (epoch: number): Uint32Array => {
    let order = orders.get(epoch);
    if (!order) {
      orders.clear();
      const list = Array.from({ length: train.count }, (_, i) => i);
      new T.Rng(derivedSeed(seed, SHUFFLE_STREAM, epoch)).shuffle(list);
      order = Uint32Array.from(list);
      orders.set(epoch, order);
    }
    return order;
  };

  const started = performance.now();
  const startStep = state.step;
  const elapsedBefore = state.elapsedSeconds;
  const elapsedNow = () => elapsedBefore + (performance.now() - started) / 1000;
  const batchIds = new Int32Array(batchSize * seqLen);
  let lastEval: { loss: number; perplexity: number } | null = null;
  let lastEvalStep = -1;
  model.train();
  while (state.step < totalSteps) {
    if (o.signal?.aborted) {
      if (state.step > startStep) checkpoint(elapsedNow());
      emit({ type: "aborted", step: state.step });
      return result(false);
    }
    const step = state.step;
    const epoch = Math.floor(step / batchesPerEpoch);
    const batchInEpoch = step % batchesPerEpoch;
    const order = orderOf(epoch);
    for (let r = 0; r < batchSize; r++) {
      const block = order[batchInEpoch * batchSize + r];
      batchIds.set(train.ids.subarray(block * seqLen, (block + 1) * seqLen), r * seqLen);
    }
    const { inputs, targets } = inputsAndTargets(batchIds, derivedSeed(seed, MASK_STREAM, step));
    let loss: number;
    let gradNorm = 0;
    try {
      loss = T.scope(() => {
        const lossTensor = lossOf(inputs, targets, batchSize);
        const value = lossTensor.item();
        if (Number.isFinite(value)) T.backward(lossTensor);
        return value;
      });
      if (!Number.isFinite(loss)) throw new T.NonFiniteError("pretrain", `loss is ${loss}`);
      const maxNorm = o.maxGradNorm ?? 1;
      gradNorm = maxNorm > 0 ? clipGradNorm(parameterTensors, maxNorm) : Number.NaN;
    } catch (error) {
      if (!(error instanceof T.NonFiniteError)) throw error;
      optimizer.zeroGrad();
      const where = state.file
        ? `the last good checkpoint (step ${state.step}) is kept in ${checkpointDir}; resume from it with a lower learning rate`
        : "no checkpoint was written yet";
      appendLog(logPath, { type: "error", step: step + 1, message: error.message });
      throw new PretrainError(
        "NON_FINITE_LOSS",
        `training diverged at step ${step + 1} of ${totalSteps} (${error.message}): lower the learning rate or raise the warm-up; ${where}`,
        { cause: error },
      );
    }
    const learningRate = pretrainLearningRate(step, {
      peak: o.learningRate,
      warmupSteps,
      totalSteps,
      minRatio,
    });
    optimizer.lr = learningRate;
    optimizer.step();
    optimizer.zeroGrad();
    state.step = step + 1;
    state.recentLosses.push(loss);
    if (state.recentLosses.length > RECENT) state.recentLosses.shift();
    const elapsedRun = (performance.now() - started) / 1000;
    const stepsRun = state.step - startStep;
    const event: PretrainEvent = {
      type: "step",
      step: state.step,
      totalSteps,
      loss,
      learningRate,
      gradNorm,
      tokensPerSecond: elapsedRun > 0 ? (stepsRun * batchSize * seqLen) / elapsedRun : 0,
      elapsedSeconds: elapsedNow(),
      etaSeconds: (elapsedRun / stepsRun) * (totalSteps - state.step),
    };
    emit(event);
    if (state.step % logEvery === 0 || state.step === totalSteps) appendLog(logPath, event);
    const last = state.step === totalSteps;
    if (state.step % evalEvery === 0 || last) {
      lastEval = runEval();
      lastEvalStep = state.step;
    }
    if (state.step % checkpointEvery === 0 || last) checkpoint(elapsedNow());
    yield;
  }
  // A resumed run that had already finished still writes the folder (and its validation numbers).
  if (lastEvalStep !== state.step) lastEval = runEval();

  const trainingSeconds = elapsedNow();
  const parameters = countParameters(model);
  const summary: PretrainResult = {
    outputDir,
    model,
    steps: state.step,
    completed: true,
    parameters,
    finalTrainLoss: mean(state.recentLosses),
    validationLoss: lastEval?.loss ?? null,
    validationPerplexity: lastEval?.perplexity ?? null,
    trainingSeconds,
    trainTokens: train.tokens,
  };
  const bytes = saveModelFolder(model, o, objective, dtype);
  emit({ type: "saved", dir: outputDir, dtype, bytes });
  writeFileAtomic(
    join(outputDir, "README.md"),
    modelCard(o, config, objective, summary, {
      dtype,
      warmupSteps,
      minRatio,
      evalBlocks: validationCount,
      trainBlocks: train.count,
      validationTokens: validation.tokens,
    }),
  );
  appendLog(logPath, { type: "done", ...summaryRecord(summary) });
  return summary;

  function result(completed: boolean): PretrainResult {
    return {
      outputDir,
      model,
      steps: state.step,
      completed,
      parameters: countParameters(model),
      finalTrainLoss: mean(state.recentLosses),
      validationLoss: lastEval?.loss ?? null,
      validationPerplexity: lastEval?.perplexity ?? null,
      trainingSeconds: elapsedNow(),
      trainTokens: train.tokens,
    };
  }
}

function summaryRecord(summary: PretrainResult): Record<string, unknown> {
  const { outputDir: _dir, model: _model, ...rest } = summary;
  return rest;
}

function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

function checkOptions(o: PretrainOptions, config: ModelConfig, objective: PretrainObjective): void {
  const positiveInt = (name: string, value: number | undefined) => {
    if (value !== undefined && (!Number.isInteger(value) || value < 1))
      throw new PretrainError("BAD_OPTION", `${name} must be a positive integer, got ${value}`);
  };
  positiveInt("seqLen", o.seqLen);
  positiveInt("batchSize", o.batchSize);
  positiveInt("steps", o.steps);
  positiveInt("evalEvery", o.evalEvery);
  positiveInt("checkpointEvery", o.checkpointEvery);
  positiveInt("logEvery", o.logEvery);
  if (o.seqLen < 2) throw new PretrainError("BAD_OPTION", `seqLen must be at least 2, got ${o.seqLen}`);
  if (!(o.learningRate > 0))
    throw new PretrainError("BAD_OPTION", `learningRate must be positive, got ${o.learningRate}`);
  if (objective === "mlm" && config.family !== "bert") {
    throw new PretrainError(
      "BAD_OPTION",
      `objective "mlm" needs a BERT-family config, got model_type ${config.modelType}`,
    );
  }
  if (objective === "clm" && config.family === "bert") {
    throw new PretrainError(
      "BAD_OPTION",
      `objective "clm" needs a decoder config (llama, gpt2, ...), got model_type ${config.modelType}`,
    );
  }
  if (config.vocabSize < o.tokenizer.vocabSize) {
    throw new PretrainError(
      "TOKENIZER_MISMATCH",
      `config vocab_size ${config.vocabSize} is smaller than the tokenizer's ${o.tokenizer.vocabSize} tokens: set vocab_size to at least ${o.tokenizer.vocabSize}`,
    );
  }
  if (config.positionEmbedding !== "rope" && config.maxPositions < o.seqLen) {
    throw new PretrainError(
      "BAD_OPTION",
      `seqLen ${o.seqLen} exceeds max_position_embeddings ${config.maxPositions} of the config`,
    );
  }
}

function appendLog(path: string, record: Record<string, unknown>): void {
  appendFileSync(path, `${JSON.stringify(record)}\n`);
}

/** Drops log records after the checkpoint's step: the resumed run redoes them. */
function truncateLog(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => {
      if (!line.trim()) return false;
      const record = JSON.parse(line) as { step?: number };
      return record.step === undefined || record.step <= step;
    });
  writeFileAtomic(path, kept.map((line) => `${line}\n`).join(""));
}

/** Writes config.json, model.safetensors and the tokenizer files; returns the weights' bytes. */
function saveModelFolder(
  model: Module,
  o: PretrainOptions,
  objective: PretrainObjective,
  dtype: "f32" | "f16",
): number {
  const dir = o.outputDir;
  const tensors = new Map<string, TensorToWrite>();
  let bytes = 0;
  for (const [name, p] of model.namedParameters()) {
    tensors.set(name, {
      shape: [...p.shape],
      data: Float32Array.from(p.floats.subarray(0, p.size)),
      dtype: dtype === "f16" ? "F16" : "F32",
    });
    bytes += p.size * (dtype === "f16" ? 2 : 4);
  }
  writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
  const config = outputConfig(o.config, objective, o.tokenizer, dtype);
  writeFileAtomic(join(dir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  const files: Record<string, string | object> = { ...(o.tokenizerFiles ?? {}) };
  if (files["tokenizer_config.json"] === undefined)
    files["tokenizer_config.json"] = tokenizerConfig(o.tokenizer, objective, o.seqLen);
  for (const [name, content] of Object.entries(files)) {
    writeFileAtomic(join(dir, name), typeof content === "string" ? content : JSON.stringify(content));
  }
  return bytes;
}

/** tokenizer_config.json naming the special tokens, so Python's AutoTokenizer knows them too. */
function tokenizerConfig(
  tokenizer: Tokenizer,
  objective: PretrainObjective,
  seqLen: number,
): Record<string, unknown> {
  const config: Record<string, unknown> = {
    tokenizer_class: objective === "mlm" ? "BertTokenizerFast" : "PreTrainedTokenizerFast",
    model_max_length: seqLen,
    clean_up_tokenization_spaces: objective === "mlm",
  };
  for (const [key, special] of Object.entries(tokenizer.specialTokens))
    if (special) config[`${key}_token`] = special.token;
  if (objective === "mlm") config.do_lower_case = true;
  return config;
}

function modelCard(
  o: PretrainOptions,
  config: ModelConfig,
  objective: PretrainObjective,
  summary: PretrainResult,
  extra: {
    dtype: string;
    warmupSteps: number;
    minRatio: number;
    evalBlocks: number;
    trainBlocks: number;
    validationTokens: number;
  },
): string {
  const title =
    o.card?.title ??
    (o.initFrom !== undefined
      ? `${config.modelType} pretrained further from ${basename(o.initFrom)} with adaptlm`
      : `${config.modelType} pretrained from scratch with adaptlm`);
  const number = (value: number | null, digits = 4) => (value === null ? "n/a" : value.toFixed(digits));
  const minutes = (summary.trainingSeconds / 60).toFixed(1);
  const lines = [
    "---",
    "library_name: transformers",
    "tags:",
    "  - adaptlm",
    `  - ${objective === "mlm" ? "fill-mask" : "text-generation"}`,
    `pipeline_tag: ${objective === "mlm" ? "fill-mask" : "text-generation"}`,
    "---",
    "",
    `# ${title}`,
    "",
    `A ${(summary.parameters / 1e6).toFixed(2)}M-parameter ${config.modelType} model trained from ${o.initFrom !== undefined ? `the weights of ${o.initFrom}` : "random initialisation"} with the ${objective === "mlm" ? "masked-language-model objective (15% of tokens selected; 80% [MASK], 10% random, 10% kept)" : "causal language-model (next-token) objective"} by adaptlm ${adaptlmVersion()}.`,
    "",
    "## Data",
    "",
    o.card?.data ??
      `${o.trainTexts.length} training texts, ${(o.validationTexts ?? []).length} validation texts.`,
    "",
    `Training stream: ${summary.trainTokens} tokens in ${extra.trainBlocks} blocks of ${o.seqLen}; validation: ${extra.validationTokens} tokens, first ${extra.evalBlocks} blocks used.`,
    "",
    "## Model",
    "",
    `hidden ${config.hiddenSize}, ${config.numLayers} layers, ${config.numHeads} heads, intermediate ${config.intermediateSize}, vocabulary ${config.vocabSize}, context ${o.seqLen}; ${summary.parameters} parameters; weights stored as ${extra.dtype}.`,
    "",
    "## Recipe",
    "",
    ...(o.card?.recipe ? [o.card.recipe, ""] : []),
    `- steps ${summary.steps}, batch ${o.batchSize} x ${o.seqLen} tokens`,
    `- AdamW, peak learning rate ${o.learningRate}, weight decay ${o.weightDecay ?? 0.01} (none on biases and norms), gradient clipping ${o.maxGradNorm ?? 1}`,
    `- linear warm-up ${extra.warmupSteps} steps, cosine decay to ${extra.minRatio} of the peak`,
    `- seed ${o.seed ?? 42}`,
    "",
    "## Results",
    "",
    "| | value |",
    "|---|---|",
    `| final training loss (mean of last ${RECENT} steps) | ${number(summary.finalTrainLoss)} |`,
    `| validation loss | ${number(summary.validationLoss)} |`,
    `| validation perplexity | ${number(summary.validationPerplexity, 2)} |`,
    `| training time | ${minutes} min |`,
    "",
    "Load with adaptlm (`adaptlm info <folder>`) or with Python: `AutoModelFor" +
      (objective === "mlm" ? "MaskedLM" : "CausalLM") +
      ".from_pretrained(folder)`.",
    "",
  ];
  return lines.join("\n");
}
