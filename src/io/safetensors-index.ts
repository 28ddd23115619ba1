// Sharded safetensors checkpoints (`model.safetensors.index.json` + `model-0000i-of-0000n.safetensors`) and
// the one entry point that opens a model folder's weights whatever their layout.
//
// Index format (what transformers' save_pretrained writes):
//   { "metadata": { "total_size": <bytes>, ... }, "weight_map": { "<tensor name>": "<shard file name>", ... } }
// The weight map is authoritative: every listed tensor must exist in its shard; tensors a shard holds but the
// map does not list are not exposed (transformers reads by the map too).

import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { isAbsolute, join, normalize, sep } from "node:path";
import { writeFileAtomic } from "./atomic-file.js";
import {
  openSafetensors,
  type SafetensorsFile,
  type TensorToWrite,
  writeSafetensors,
} from "./safetensors.js";
import { SafetensorsError, safetensorsError } from "./safetensors-header.js";
import type { SafetensorsHeaderSource } from "./safetensors-header-source.js";
import type { LoadedTensor, StoredTensorInfo, TensorSource } from "./tensor-source.js";

export const SAFETENSORS_INDEX_NAME = "model.safetensors.index.json";
export const SAFETENSORS_SINGLE_NAME = "model.safetensors";

/** Several safetensors shards presented as one name space. */
export class ShardedSafetensors implements TensorSource {
  readonly indexPath: string;
  /** The index's "metadata" object (e.g. total_size), as parsed. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Shard file name -> open file (or its header alone, see CheckpointOptions.headers). */
  private readonly shards: Map<string, TensorSource>;
  private readonly weightMap: Map<string, string>;
  private readonly sortedNames: string[];
  private closed = false;

  /** Use `openSafetensorsIndex` or `openCheckpoint`. */
  constructor(
    indexPath: string,
    metadata: Record<string, unknown>,
    shards: Map<string, TensorSource>,
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

  readFloat32Into(name: string, out: Float32Array): void {
    this.locate(name)[1].readFloat32Into(name, out);
  }

  readInt32(name: string): Int32Array {
    return this.locate(name)[1].readInt32(name);
  }

  close(): void {
    this.closed = true;
    for (const shard of this.shards.values()) shard.close();
  }

  private locate(name: string): [string, TensorSource] {
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

export interface CheckpointOptions {
  /**
   * Weight files known by their header alone, by file name relative to the folder (e.g. fetched from the hub
   * for `adaptlm info`); used instead of the file on disk, which need not exist.
   */
  headers?: ReadonlyMap<string, SafetensorsHeaderSource>;
}

/**
 * Opens a sharded checkpoint from its index file: parses the index, opens (header only) every shard it names
 * and checks that each mapped tensor is in its shard. Throws SafetensorsError: SAFETENSORS_IO (index
 * unreadable), SAFETENSORS_BAD_INDEX (not JSON, no weight_map object, non-string or unsafe shard names such as
 * absolute paths or "..", tensor missing from its shard), plus any error of opening a shard.
 */
export function openSafetensorsIndex(indexPath: string, options: CheckpointOptions = {}): ShardedSafetensors {
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
  const shards = new Map<string, TensorSource>();
  try {
    for (const shardName of new Set(weightMap.values())) {
      shards.set(shardName, options.headers?.get(shardName) ?? openSafetensors(join(directory, shardName)));
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
export function openCheckpoint(
  path: string,
  options: CheckpointOptions = {},
): SafetensorsFile | ShardedSafetensors | SafetensorsHeaderSource {
  if (path.endsWith(".index.json")) return openSafetensorsIndex(path, options);
  if (path.endsWith(".safetensors")) return openSafetensors(path);
  const indexPath = join(path, SAFETENSORS_INDEX_NAME);
  if (existsSync(indexPath)) return openSafetensorsIndex(indexPath, options);
  const singleHeader = options.headers?.get(SAFETENSORS_SINGLE_NAME);
  if (singleHeader) return singleHeader;
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

export interface WriteCheckpointOptions {
  /** Largest shard in bytes before a new one starts (a bigger single tensor gets a shard of its own). Default 5 GB, as transformers' save_pretrained. */
  maxShardBytes?: number;
  /** `__metadata__` of every shard; default {"format": "pt"} as transformers writes. */
  metadata?: Readonly<Record<string, string>>;
}

const SHARD_NAME = /^model-\d{5}-of-\d{5}\.safetensors$/;

/**
 * Writes model weights into a folder the way transformers' save_pretrained does: one `model.safetensors` when
 * everything fits in `maxShardBytes`, else `model-0000i-of-0000n.safetensors` shards (tensors in sorted name
 * order, filled greedily) plus `model.safetensors.index.json` ({"metadata": {"total_size"}, "weight_map"},
 * keys sorted, indent 2). Every file is written atomically, shards before the index; afterwards shards and an
 * index left over from an earlier save with a different layout are removed, so `openCheckpoint` never mixes
 * two saves. Returns the file names written. Errors: as writeSafetensors (SafetensorsError
 * SAFETENSORS_BAD_INPUT, AtomicWriteError).
 */
export function writeCheckpoint(
  directory: string,
  tensors: ReadonlyMap<string, TensorToWrite> | Readonly<Record<string, TensorToWrite>>,
  options: WriteCheckpointOptions = {},
): { files: string[]; indexFile: string | null } {
  const maxShardBytes = options.maxShardBytes ?? 5_000_000_000;
  const metadata = options.metadata ?? { format: "pt" };
  const list: [string, TensorToWrite][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const groups: [string, TensorToWrite][][] = [[]];
  let groupBytes = 0;
  let totalBytes = 0;
  for (const entry of list) {
    const bytes = storedBytes(entry[0], entry[1]);
    if (groups[groups.length - 1].length > 0 && groupBytes + bytes > maxShardBytes) {
      groups.push([]);
      groupBytes = 0;
    }
    groups[groups.length - 1].push(entry);
    groupBytes += bytes;
    totalBytes += bytes;
  }
  const files: string[] = [];
  let indexFile: string | null = null;
  if (groups.length === 1) {
    writeSafetensors(join(directory, SAFETENSORS_SINGLE_NAME), new Map(groups[0]), metadata);
    files.push(SAFETENSORS_SINGLE_NAME);
  } else {
    const weightMap: Record<string, string> = {};
    const count = String(groups.length).padStart(5, "0");
    groups.forEach((group, i) => {
      const name = `model-${String(i + 1).padStart(5, "0")}-of-${count}.safetensors`;
      writeSafetensors(join(directory, name), new Map(group), metadata);
      for (const [tensorName] of group) weightMap[tensorName] = name;
      files.push(name);
    });
    const index = { metadata: { total_size: totalBytes }, weight_map: weightMap };
    writeFileAtomic(join(directory, SAFETENSORS_INDEX_NAME), `${JSON.stringify(index, null, 2)}\n`);
    indexFile = SAFETENSORS_INDEX_NAME;
  }
  // Remove what an earlier save with another layout left behind.
  for (const name of readdirSync(directory)) {
    const stale =
      (SHARD_NAME.test(name) && !files.includes(name)) ||
      (name === SAFETENSORS_INDEX_NAME && indexFile === null) ||
      (name === SAFETENSORS_SINGLE_NAME && indexFile !== null);
    if (stale) rmSync(join(directory, name), { force: true });
  }
  return { files, indexFile };
}

/** Bytes a tensor takes on disk in the dtype writeSafetensors will choose. */
function storedBytes(name: string, tensor: TensorToWrite): number {
  const dtype =
    tensor.dtype ??
    (tensor.data instanceof Float32Array
      ? "F32"
      : tensor.data instanceof Float64Array
        ? "F64"
        : tensor.data instanceof Int32Array
          ? "I32"
          : "I64");
  const width = dtype === "F16" || dtype === "BF16" ? 2 : dtype === "F32" || dtype === "I32" ? 4 : 8;
  if (!Number.isSafeInteger(tensor.data.length)) {
    throw safetensorsError("SAFETENSORS_BAD_INPUT", `tensor "${name}" has no valid length`);
  }
  return tensor.data.length * width;
}
