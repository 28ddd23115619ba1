// Adapter folders in PEFT's layout: adapter_config.json (sorted keys, as PEFT's save_pretrained writes it)
// and adapter_model.safetensors (float32, `{"format": "pt"}` metadata), holding only what the method trains
// plus the task head. LoRA, prefix and prompt tuning folders are the ones Python PEFT writes and reads;
// BitFit, Houlsby and AdapterBias use the same two files with their own peft_type.

import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { writeFileAtomic } from "../io/atomic-file.js";
import { readSafetensors, writeSafetensors } from "../io/safetensors.js";
import { openCheckpoint } from "../io/safetensors-index.js";
import { shapeSize } from "../io/tensor-source.js";
import { AdapterBiasAdapter } from "./adapter-bias.js";
import { BitFitAdapter } from "./bitfit.js";
import { HoulsbyAdapter } from "./houlsby.js";
import { LoraAdapter } from "./lora.js";
import { type Adapter, PeftError, type PeftType, type StoredTensor } from "./method.js";
import { PrefixTuningAdapter } from "./prefix.js";
import { PromptTuningAdapter } from "./prompt-tuning.js";

export const ADAPTER_CONFIG_FILE = "adapter_config.json";
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";

/** How each peft_type is built from its adapter_config.json. */
const fromConfig: Record<PeftType, (config: Record<string, unknown>) => Adapter> = {
  LORA: LoraAdapter.fromPeftConfig,
  PREFIX_TUNING: PrefixTuningAdapter.fromPeftConfig,
  PROMPT_TUNING: PromptTuningAdapter.fromPeftConfig,
  BITFIT: BitFitAdapter.fromPeftConfig,
  HOULSBY: HoulsbyAdapter.fromPeftConfig,
  ADAPTER_BIAS: AdapterBiasAdapter.fromPeftConfig,
};

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  return value;
}

/** Writes adapter_config.json and adapter_model.safetensors into dir (created if needed), atomically each. */
export function saveAdapter(adapter: Adapter, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, value] of adapter.savedTensors()) tensors.set(name, value);
  writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), tensors, { format: "pt" });
  writeFileAtomic(
    join(dir, ADAPTER_CONFIG_FILE),
    `${JSON.stringify(sortKeys(adapter.adapterConfig()), null, 2)}\n`,
  );
}

/** Reads an adapter folder's config (typed errors for a missing or malformed file). */
export function readAdapterConfig(dir: string): Record<string, unknown> {
  const path = join(dir, ADAPTER_CONFIG_FILE);
  if (!existsSync(path)) {
    throw new PeftError(
      "ADAPTER_FOLDER_INVALID",
      `${dir} has no ${ADAPTER_CONFIG_FILE}: expected a PEFT adapter folder (adapter_config.json + adapter_model.safetensors)`,
    );
  }
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new PeftError("ADAPTER_CONFIG_INVALID", `${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (!config || typeof config !== "object" || Array.isArray(config)) {
    throw new PeftError("ADAPTER_CONFIG_INVALID", `${path} must hold a JSON object`);
  }
  const peftType = (config as Record<string, unknown>).peft_type;
  if (typeof peftType !== "string" || !(peftType in fromConfig)) {
    throw new PeftError(
      "ADAPTER_TYPE_UNSUPPORTED",
      `${path} has peft_type ${JSON.stringify(peftType)}; adaptlm reads ${Object.keys(fromConfig).join(", ")}`,
    );
  }
  return config as Record<string, unknown>;
}

/** The saved tensors of an adapter folder by their names in the file. */
export function readAdapterTensors(dir: string): Map<string, StoredTensor> {
  const path = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(path)) {
    throw new PeftError(
      "ADAPTER_FOLDER_INVALID",
      `${dir} has no ${ADAPTER_WEIGHTS_FILE} (adapter_model.bin is not supported: convert it to safetensors)`,
    );
  }
  const out = new Map<string, StoredTensor>();
  for (const [name, t] of readSafetensors(path).tensors) {
    if (!(t.data instanceof Float32Array))
      throw new PeftError(
        "ADAPTER_TENSOR_DTYPE",
        `${path}: tensor ${name} is ${t.dtype}, expected a float tensor`,
      );
    out.set(name, { shape: t.shape, data: t.data });
  }
  return out;
}

/** Loads an adapter folder into a detached Adapter whose values are applied when it is attached. */
export function loadAdapter(dir: string): Adapter {
  const config = readAdapterConfig(dir);
  const adapter = fromConfig[config.peft_type as PeftType](config);
  adapter.sourceConfig = config;
  const values = new Map<string, StoredTensor>();
  for (const [name, value] of readAdapterTensors(dir)) values.set(adapter.canonicalTensorName(name), value);
  adapter.loadState(values);
  return adapter;
}

export interface AdapterSummary {
  dir: string;
  peftType: string;
  taskType: string | null;
  baseModel: string | null;
  /** Trainable elements stored in the folder. */
  parameters: number;
  tensors: number;
  /** Size of adapter_config.json + adapter_model.safetensors. */
  bytes: number;
}

/** What an adapter folder holds, without building a model. */
export function summarizeAdapter(dir: string): AdapterSummary {
  const config = readAdapterConfig(dir);
  const tensors = readAdapterTensors(dir);
  let parameters = 0;
  for (const [, t] of tensors) parameters += t.data.length;
  const bytes =
    statSync(join(dir, ADAPTER_CONFIG_FILE)).size + statSync(join(dir, ADAPTER_WEIGHTS_FILE)).size;
  return {
    dir,
    peftType: config.peft_type as string,
    taskType: (config.task_type as string | null) ?? null,
    baseModel: (config.base_model_name_or_path as string | null) ?? null,
    parameters,
    tensors: tensors.size,
    bytes,
  };
}

/** Number of elements stored in a model folder's safetensors checkpoint (header only, nothing read). */
export function checkpointParameterCount(modelDir: string): number {
  const source = openCheckpoint(modelDir);
  try {
    let total = 0;
    for (const name of source.names()) total += shapeSize(source.info(name).shape);
    return total;
  } finally {
    source.close();
  }
}

/**
 * Where an adapter's base model folder is: base_model_name_or_path as an absolute path, or relative to the
 * adapter folder or one of its ancestors (the golden layout), or to the working directory; null if none of
 * those is a folder holding model weights.
 */
export function resolveBaseModelDir(adapterDir: string, baseModel: string | null): string | null {
  if (!baseModel) return null;
  const holdsWeights = (dir: string) =>
    existsSync(join(dir, "model.safetensors")) || existsSync(join(dir, "model.safetensors.index.json"));
  if (isAbsolute(baseModel)) return holdsWeights(baseModel) ? baseModel : null;
  let dir = resolve(adapterDir);
  for (;;) {
    const candidate = join(dir, baseModel);
    if (holdsWeights(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  const fromCwd = resolve(baseModel);
  return holdsWeights(fromCwd) ? fromCwd : null;
}
