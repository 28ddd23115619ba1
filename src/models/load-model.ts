// One call from "a model someone named" to a ready module with its tokenizer:
//   <folder>           Hugging Face layout: config.json, model.safetensors (or a sharded index), tokenizer files
//   <file>.bin         a llama2.c checkpoint; its tokenizer from `tokenizer` (tok512.bin, tokenizer.bin), else a
//                      tokenizer.bin next to it, as run.c defaults to
//   <org>/<name>       a Hugging Face hub id (not an existing path): downloaded into the HF cache first (hub.ts)
// The registry decides which module the config describes (causal LM, masked LM, plain encoder).

import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { AdaptlmError } from "../errors.js";
import type { ModelConfig } from "../io/hf-config.js";
import {
  type DownloadProgress,
  type HubOptions,
  isHubId,
  snapshotDownload,
  snapshotHeaders,
} from "../io/hub.js";
import { openModelWeights } from "../io/model-weights.js";
import type { SafetensorsHeaderSource } from "../io/safetensors-header-source.js";
import type { StoredDtype, TensorSource } from "../io/tensor-source.js";
import { deferRandomInit } from "../nn/init.js";
import { loadTokenizer } from "../tokenizers/load.js";
import type { PretrainedTokenizer } from "../tokenizers/tokenizer.js";
import { type LoadWeightsReport, loadWeights } from "./load-weights.js";
import {
  type BuiltModel,
  buildModel,
  checkpointHasPooler,
  type ModelKind,
  modelKinds,
  weightAliases,
} from "./registry.js";

export interface LoadModelOptions {
  /** Tokenizer file or folder (required for a llama2.c .bin unless tokenizer.bin sits next to it), or a tokenizer. */
  tokenizer?: string | PretrainedTokenizer;
  /** Build this kind instead of the one `architectures` asks for (e.g. "encoder" from an MLM checkpoint). */
  kind?: ModelKind;
  /** Hub options for `<org>/<name>` ids (endpoint, cache, token, revision, offline, progress). */
  hub?: HubOptions;
  onDownloadProgress?: (progress: DownloadProgress) => void;
}

export interface ModelSource {
  format: "safetensors" | "llama2c";
  /** The folder or .bin file the weights were read from. */
  path: string;
  /** The hub id when the model came from the hub. */
  hubId?: string;
}

export type LoadedModel = BuiltModel & {
  config: ModelConfig;
  /** null when the folder has no tokenizer files (e.g. test fixtures); the CLI asks for --tokenizer then. */
  tokenizer: PretrainedTokenizer | null;
  source: ModelSource;
  /** dtypes of the stored floating tensors (what the checkpoint holds; the engine computes in float32). */
  storedDtypes: StoredDtype[];
  /** What loading used, left at initial values, and ignored (e.g. position_ids, attn.bias buffers). */
  weights: LoadWeightsReport;
};

/** Errors of loadModel itself. Codes: MODEL_NOT_FOUND, MODEL_TOKENIZER_MISSING. */
export class LoadModelError extends AdaptlmError {}

/** Loads a local folder, a llama2.c .bin or a hub id (downloading it when needed). */
export async function loadModel(pathOrHubId: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  if (existsSync(pathOrHubId)) return loadLocalModel(pathOrHubId, options);
  if (isHubId(pathOrHubId)) {
    const hubOptions: HubOptions = { ...options.hub };
    if (options.onDownloadProgress) hubOptions.onProgress = options.onDownloadProgress;
    const folder = await snapshotDownload(pathOrHubId, hubOptions);
    const loaded = loadLocalModel(folder, options);
    loaded.source.hubId = pathOrHubId;
    return loaded;
  }
  throw new LoadModelError(
    "MODEL_NOT_FOUND",
    `model ${pathOrHubId} not found: give a model folder (config.json + safetensors), a llama2.c .bin file, or a hub id <org>/<name>`,
  );
}

/** Loads a local folder or llama2.c .bin (no network). */
export function loadLocalModel(path: string, options: LoadModelOptions = {}): LoadedModel {
  const opened = openModelWeights(path);
  const { config, weights } = opened;
  try {
    const kind = options.kind ?? modelKinds(config, weights)[0];
    // random initialisation only for what the checkpoint does not provide (e.g. a new task head)
    const { result: built, pending } = deferRandomInit(() =>
      buildModel(config, kind, { pooler: checkpointHasPooler(config, weights) }),
    );
    const aliases = weightAliases(config);
    const report = loadWeights(built.model, weights, {
      prefix: config.baseModelPrefix,
      ...(aliases ? { aliases } : {}),
    });
    const loadedData = new Set<unknown>();
    const parameters = new Map(built.model.namedParameters());
    for (const name of report.loaded) loadedData.add(parameters.get(name)?.data);
    for (const init of pending) if (!loadedData.has(init.tensor.data)) init.run();
    const tokenizer = resolveTokenizer(path, opened.format, config, options.tokenizer);
    return {
      ...built,
      config,
      tokenizer,
      source: { format: opened.format, path },
      storedDtypes: storedDtypes(weights),
      weights: report,
    } as LoadedModel;
  } finally {
    weights.close();
  }
}

function storedDtypes(weights: TensorSource): StoredDtype[] {
  const found = new Set<StoredDtype>();
  for (const name of weights.names()) {
    const dtype = weights.info(name).dtype;
    if (dtype === "F16" || dtype === "BF16" || dtype === "F32" || dtype === "F64") found.add(dtype);
  }
  return [...found].sort();
}

function resolveTokenizer(
  path: string,
  format: ModelSource["format"],
  config: ModelConfig,
  given: LoadModelOptions["tokenizer"],
): PretrainedTokenizer | null {
  if (given !== undefined && typeof given !== "string") return given;
  if (typeof given === "string") {
    if (!existsSync(given)) {
      throw new LoadModelError("MODEL_TOKENIZER_MISSING", `tokenizer ${given} does not exist`);
    }
    return loadTokenizer(given, { vocabSize: config.vocabSize });
  }
  if (format === "llama2c") {
    // run.c's default is tokenizer.bin; llama2.c's custom vocabularies are named tok<N>.bin.
    for (const name of ["tokenizer.bin", `tok${config.vocabSize}.bin`]) {
      const candidate = join(dirname(path), name);
      if (existsSync(candidate)) return loadTokenizer(candidate, { vocabSize: config.vocabSize });
    }
    return null;
  }
  if (!statSync(path).isDirectory()) return null;
  try {
    return loadTokenizer(path);
  } catch (error) {
    if (error instanceof AdaptlmError && error.code === "TOKENIZER_NOT_FOUND") return null;
    throw error;
  }
}

/** The model's tokenizer, or a typed error saying how to provide one. */
export function requireTokenizer(loaded: LoadedModel): PretrainedTokenizer {
  if (loaded.tokenizer) return loaded.tokenizer;
  throw new LoadModelError(
    "MODEL_TOKENIZER_MISSING",
    loaded.source.format === "llama2c"
      ? `no tokenizer for ${loaded.source.path}: pass --tokenizer <tokenizer.bin> (llama2.c checkpoints do not include one)`
      : `no tokenizer files in ${loaded.source.path} (tokenizer.json, vocab.json + merges.txt, vocab.txt): pass --tokenizer <file or folder>`,
  );
}

/** Number of parameters (tied matrices counted once). */
export function parameterCount(loaded: LoadedModel): number {
  const seen = new Set<unknown>();
  let count = 0;
  for (const [, p] of loaded.model.namedParameters()) {
    if (seen.has(p)) continue;
    seen.add(p);
    count += p.size;
  }
  return count;
}

/**
 * The ids that end generation: the config's eos_token_id(s), else the tokenizer's EOS. llama2.c models also
 * stop on BOS, as run.c does (its stories begin with BOS, so BOS ends the previous one).
 */
export function eosTokenIds(loaded: Pick<LoadedModel, "config" | "tokenizer" | "source">): number[] {
  const fromConfig = loaded.config.eosTokenId;
  const ids: number[] = Array.isArray(fromConfig)
    ? [...fromConfig]
    : typeof fromConfig === "number"
      ? [fromConfig]
      : [];
  const eos = loaded.tokenizer?.eosTokenId;
  if (ids.length === 0 && eos !== undefined) ids.push(eos);
  const bos = loaded.config.bosTokenId;
  if (loaded.source.format === "llama2c" && bos !== null && !ids.includes(bos)) ids.push(bos);
  return ids;
}

/** What `adaptlm info` shows, read from the config and the checkpoint's header (no weights are loaded). */
export interface ModelDescription {
  config: ModelConfig;
  kind: ModelKind;
  source: ModelSource;
  /** Parameters in the checkpoint (buffers such as position_ids and tied copies not counted). */
  parameters: number;
  storedDtypes: StoredDtype[];
  /** Bytes on disk of the stored parameters. */
  storedBytes: number;
  /** Bytes of the weights as the engine holds them (float32). */
  float32Bytes: number;
  /** Bytes of a float32 KV cache for one sequence of the full context (0 for encoders). */
  kvCacheBytes: number;
  tokenizer: PretrainedTokenizer | null;
}

const BUFFER_NAMES = /(^|\.)(position_ids|attn\.bias|attn\.masked_bias|rotary_emb\.inv_freq)$/;
const TIED_COPIES =
  /^(cls\.predictions\.decoder\.weight|lm_head\.decoder\.weight|vocab_projector\.weight|lm_head\.weight)$/;

/**
 * Describes a model without building it. A hub id is not downloaded: config and tokenizer files are, and of the
 * weights only the safetensors headers (hub.ts snapshotHeaders).
 */
export async function describeModel(
  pathOrHubId: string,
  options: LoadModelOptions = {},
): Promise<ModelDescription> {
  let path = pathOrHubId;
  let hubId: string | undefined;
  let headers: Map<string, SafetensorsHeaderSource> | undefined;
  if (!existsSync(pathOrHubId) && isHubId(pathOrHubId)) {
    const hubOptions: HubOptions = { ...options.hub };
    if (options.onDownloadProgress) hubOptions.onProgress = options.onDownloadProgress;
    ({ folder: path, headers } = await snapshotHeaders(pathOrHubId, hubOptions));
    hubId = pathOrHubId;
  } else if (!existsSync(pathOrHubId)) {
    throw new LoadModelError(
      "MODEL_NOT_FOUND",
      `model ${pathOrHubId} not found: give a model folder (config.json + safetensors), a llama2.c .bin file, or a hub id <org>/<name>`,
    );
  }
  const opened = openModelWeights(path, headers ? { headers } : {});
  const { config, weights } = opened;
  try {
    const kind = options.kind ?? modelKinds(config, weights)[0];
    let parameters = 0;
    let storedBytes = 0;
    for (const name of weights.names()) {
      const info = weights.info(name);
      if (!["F16", "BF16", "F32", "F64"].includes(info.dtype) || BUFFER_NAMES.test(name)) continue;
      if (config.tieWordEmbeddings && TIED_COPIES.test(name)) continue;
      if (kind === "encoder" && /^(cls|lm_head|vocab_)/.test(name)) continue;
      parameters += info.shape.reduce((a, b) => a * b, 1);
      storedBytes += info.byteLength;
    }
    const kvCacheBytes =
      kind === "causal-lm"
        ? 2 * config.numLayers * config.numKvHeads * config.headDim * config.maxPositions * 4
        : 0;
    const source: ModelSource = { format: opened.format, path };
    if (hubId) source.hubId = hubId;
    return {
      config,
      kind,
      source,
      parameters,
      storedDtypes: storedDtypes(weights),
      storedBytes,
      float32Bytes: parameters * 4,
      kvCacheBytes,
      tokenizer: resolveTokenizer(path, opened.format, config, options.tokenizer),
    };
  } finally {
    weights.close();
  }
}
