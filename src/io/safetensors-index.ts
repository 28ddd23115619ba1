// Sharded safetensors checkpoints (`model.safetensors.index.json` + `model-0000i-of-0000n.safetensors`) and
// the one entry point that opens a model folder's weights whatever their layout.
//
// Index format (what transformers' save_pretrained writes):
//   { "metadata": { "total_size": <bytes>, ... }, "weight_map": { "<tensor name>": "<shard file name>", ... } }
// The weight map is authoritative: every listed tensor must exist in its shard; tensors a shard holds but the
// map does not list are not exposed (transformers reads by the map too).

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { isAbsolute, join, normalize, sep } from "node:path";
import { openSafetensors, type SafetensorsFile } from "./safetensors.js";
import { SafetensorsError, safetensorsError } from "./safetensors-header.js";
import type { LoadedTensor, StoredTensorInfo, TensorSource } from "./tensor-source.js";

export const SAFETENSORS_INDEX_NAME = "model.safetensors.index.json";
export const SAFETENSORS_SINGLE_NAME = "model.safetensors";

/** Several safetensors shards presented as one name space. */
export class ShardedSafetensors implements TensorSource {
  readonly indexPath: string;
  /** The index's "metadata" object (e.g. total_size), as parsed. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Shard file name -> open file. */
  private readonly shards: Map<string, SafetensorsFile>;
  private readonly weightMap: Map<string, string>;
  private readonly sortedNames: string[];
  private closed = false;

  /** Use `openSafetensorsIndex` or `openCheckpoint`. */
  constructor(
    indexPath: string,
    metadata: Record<string, unknown>,
    shards: Map<string, SafetensorsFile>,
    weightMap: Map<string, string>,
  ) {
    this.indexPath = indexPath;
    this.metadata = Object.freeze({ ...metadata });
    this.shards = shards;
    this.weightMap = weightMap;
    this.sortedNames = [...weightMap.keys()].sort();
  }

  names(): string[] {
    return [...this.sortedNames];
  }

  has(name: string): boolean {
    return this.weightMap.has(name);
  }

  /** The shard file name holding `name`. */
  shardOf(name: string): string {
    return this.locate(name)[0];
  }

  info(name: string): StoredTensorInfo {
    return this.locate(name)[1].info(name);
  }

  read(name: string): LoadedTensor {
    return this.locate(name)[1].read(name);
  }

  readFloat32(name: string): Float32Array {
    return this.locate(name)[1].readFloat32(name);
  }

  readInt32(name: string): Int32Array {
    return this.locate(name)[1].readInt32(name);
  }

  close(): void {
    this.closed = true;
    for (const shard of this.shards.values()) shard.close();
  }

  private locate(name: string): [string, SafetensorsFile] {
    if (this.closed)
      throw safetensorsError("SAFETENSORS_CLOSED", `${this.indexPath} was closed; open it again`);
    const shardName = this.weightMap.get(name);
    if (shardName === undefined) {
      throw safetensorsError(
        "SAFETENSORS_NOT_FOUND",
        `no tensor "${name}" in the weight_map of ${this.indexPath} (${this.sortedNames.length} tensors): check the name or the model type`,
      );
    }
    return [shardName, this.shards.get(shardName)!];
  }
}

/**
 * Opens a sharded checkpoint from its index file: parses the index, opens (header only) every shard it names
 * and checks that each mapped tensor is in its shard. Throws SafetensorsError: SAFETENSORS_IO (index
 * unreadable), SAFETENSORS_BAD_INDEX (not JSON, no weight_map object, non-string or unsafe shard names such as
 * absolute paths or "..", tensor missing from its shard), plus any error of opening a shard.
 */
export function openSafetensorsIndex(indexPath: string): ShardedSafetensors {
  let text: string;
  try {
    text = readFileSync(indexPath, "utf8");
  } catch (error) {
    throw safetensorsError(
      "SAFETENSORS_IO",
      `cannot read ${indexPath}: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
  let index: unknown;
  try {
    index = JSON.parse(text);
  } catch (error) {
    throw safetensorsError(
      "SAFETENSORS_BAD_INDEX",
      `${indexPath} is not valid JSON (${error instanceof Error ? error.message : String(error)}): re-download the checkpoint`,
      error,
    );
  }
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === "object" && value !== null && !Array.isArray(value);
  if (!isObject(index) || !isObject(index.weight_map)) {
    throw safetensorsError(
      "SAFETENSORS_BAD_INDEX",
      `${indexPath} has no "weight_map" object (expected {"metadata": {...}, "weight_map": {"<tensor>": "<shard file>"}})`,
    );
  }
  const metadata = isObject(index.metadata) ? index.metadata : {};
  const directory = join(indexPath, "..");
  const weightMap = new Map<string, string>();
  for (const [name, shardName] of Object.entries(index.weight_map)) {
    if (typeof shardName !== "string" || !isSafeRelativePath(shardName)) {
      throw safetensorsError(
        "SAFETENSORS_BAD_INDEX",
        `weight_map["${name}"] in ${indexPath} must be a shard file name inside the folder, found ${JSON.stringify(shardName)}`,
      );
    }
    weightMap.set(name, shardName);
  }
  const shards = new Map<string, SafetensorsFile>();
  try {
    for (const shardName of new Set(weightMap.values())) {
      shards.set(shardName, openSafetensors(join(directory, shardName)));
    }
    for (const [name, shardName] of weightMap) {
      if (!shards.get(shardName)!.has(name)) {
        throw safetensorsError(
          "SAFETENSORS_BAD_INDEX",
          `${indexPath} maps "${name}" to ${shardName}, but that shard has no such tensor: the download is incomplete or mixed from two revisions`,
        );
      }
    }
  } catch (error) {
    for (const shard of shards.values()) shard.close();
    throw error;
  }
  return new ShardedSafetensors(indexPath, metadata, shards, weightMap);
}

/**
 * Opens the weights of a model folder as one TensorSource: `model.safetensors.index.json` (sharded) if present,
 * else `model.safetensors`. A path to a .safetensors or .index.json file is accepted too. Throws
 * SafetensorsError SAFETENSORS_IO naming what was looked for (e.g. a folder with only pytorch_model.bin:
 * convert it to safetensors first), plus any error of the chosen reader.
 */
export function openCheckpoint(path: string): SafetensorsFile | ShardedSafetensors {
  if (path.endsWith(".index.json")) return openSafetensorsIndex(path);
  if (path.endsWith(".safetensors")) return openSafetensors(path);
  const indexPath = join(path, SAFETENSORS_INDEX_NAME);
  if (existsSync(indexPath)) return openSafetensorsIndex(indexPath);
  const singlePath = join(path, SAFETENSORS_SINGLE_NAME);
  if (existsSync(singlePath)) return openSafetensors(singlePath);
  let present = "";
  try {
    present = readdirSync(path).slice(0, 20).join(", ");
  } catch {
    present = "(folder not readable)";
  }
  const hasPytorchBin = present.includes("pytorch_model") || present.includes(".bin");
  throw new SafetensorsError(
    "SAFETENSORS_IO",
    `no ${SAFETENSORS_SINGLE_NAME} or ${SAFETENSORS_INDEX_NAME} in ${path} (found: ${present || "nothing"})` +
      (hasPytorchBin ? ": PyTorch .bin weights are not supported; convert them to safetensors first" : ""),
  );
}

function isSafeRelativePath(name: string): boolean {
  if (name.length === 0 || isAbsolute(name) || name.includes("\0")) return false;
  return !normalize(name)
    .split(sep)
    .some((part) => part === "..");
}
