// GGUF reader: the header, the metadata key/value table and the tensor info table of a GGUF file
// (llama.cpp's model format, versions 2 and 3, little-endian). Tensor data is located (offset, byte size)
// but never read or dequantized here.
//
// Layout (ggml/docs/gguf.md): magic "GGUF", uint32 version, uint64 tensor_count, uint64 kv_count, then
// kv_count entries (string key, uint32 value type, value), then tensor_count infos (string name, uint32
// n_dims, uint64 dims[n_dims], uint32 ggml type, uint64 offset relative to the data section), then padding
// to `general.alignment` (default 32) and the data section. Strings are uint64 length + UTF-8 bytes.
//
// The reader pulls bytes through a small chunked source, so a multi-gigabyte model file costs only the
// size of its header in memory; every length and count is checked against the bytes that remain before
// anything is allocated, so a corrupted file gives a GgufError instead of a hang or an out-of-memory crash.

import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { AdaptlmError } from "../errors.js";

/**
 * Every failure to read a GGUF file. Codes: GGUF_NOT_FOUND, GGUF_IO, GGUF_BAD_MAGIC, GGUF_BAD_VERSION,
 * GGUF_TRUNCATED, GGUF_BAD_COUNT, GGUF_BAD_STRING, GGUF_BAD_TYPE, GGUF_DUPLICATE_KEY, GGUF_BAD_ALIGNMENT,
 * GGUF_BAD_TENSOR, GGUF_MISSING_KEY, GGUF_WRONG_TYPE, GGUF_BAD_TOKENIZER.
 */
export class GgufError extends AdaptlmError {}

export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

const VALUE_TYPE_NAMES = [
  "uint8",
  "int8",
  "uint16",
  "int16",
  "uint32",
  "int32",
  "float32",
  "bool",
  "string",
  "array",
  "uint64",
  "int64",
  "float64",
];

/** Size in bytes of a fixed-size value type; strings and arrays return their smallest possible size. */
function minValueSize(type: number): number {
  switch (type) {
    case GgufValueType.UINT8:
    case GgufValueType.INT8:
    case GgufValueType.BOOL:
      return 1;
    case GgufValueType.UINT16:
    case GgufValueType.INT16:
      return 2;
    case GgufValueType.UINT32:
    case GgufValueType.INT32:
    case GgufValueType.FLOAT32:
      return 4;
    case GgufValueType.UINT64:
    case GgufValueType.INT64:
    case GgufValueType.FLOAT64:
    case GgufValueType.STRING: // the uint64 length
      return 8;
    case GgufValueType.ARRAY: // uint32 element type + uint64 count
      return 12;
    default:
      return 1;
  }
}

/** An array value: numeric arrays come back as typed arrays, 64-bit integers as BigInt64Array/BigUint64Array. */
export type GgufArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array
  | boolean[]
  | string[]
  | GgufArrayValue[];

export type GgufScalar = number | bigint | boolean | string;
export type GgufValue = GgufScalar | GgufArrayValue;

export interface GgufArrayValue {
  readonly kind: "array";
  readonly elementType: GgufValueType;
  readonly values: GgufArray;
}

export interface GgufMetadataEntry {
  readonly type: GgufValueType;
  readonly value: GgufValue;
}

/** ggml tensor types: name, elements per block, bytes per block (ggml.c type_traits). */
const GGML_TYPES: Record<number, { name: string; blockSize: number; typeSize: number }> = {
  0: { name: "F32", blockSize: 1, typeSize: 4 },
  1: { name: "F16", blockSize: 1, typeSize: 2 },
  2: { name: "Q4_0", blockSize: 32, typeSize: 18 },
  3: { name: "Q4_1", blockSize: 32, typeSize: 20 },
  6: { name: "Q5_0", blockSize: 32, typeSize: 22 },
  7: { name: "Q5_1", blockSize: 32, typeSize: 24 },
  8: { name: "Q8_0", blockSize: 32, typeSize: 34 },
  9: { name: "Q8_1", blockSize: 32, typeSize: 36 },
  10: { name: "Q2_K", blockSize: 256, typeSize: 84 },
  11: { name: "Q3_K", blockSize: 256, typeSize: 110 },
  12: { name: "Q4_K", blockSize: 256, typeSize: 144 },
  13: { name: "Q5_K", blockSize: 256, typeSize: 176 },
  14: { name: "Q6_K", blockSize: 256, typeSize: 210 },
  15: { name: "Q8_K", blockSize: 256, typeSize: 292 },
  16: { name: "IQ2_XXS", blockSize: 256, typeSize: 66 },
  17: { name: "IQ2_XS", blockSize: 256, typeSize: 74 },
  18: { name: "IQ3_XXS", blockSize: 256, typeSize: 98 },
  19: { name: "IQ1_S", blockSize: 256, typeSize: 50 },
  20: { name: "IQ4_NL", blockSize: 32, typeSize: 18 },
  21: { name: "IQ3_S", blockSize: 256, typeSize: 110 },
  22: { name: "IQ2_S", blockSize: 256, typeSize: 82 },
  23: { name: "IQ4_XS", blockSize: 256, typeSize: 136 },
  24: { name: "I8", blockSize: 1, typeSize: 1 },
  25: { name: "I16", blockSize: 1, typeSize: 2 },
  26: { name: "I32", blockSize: 1, typeSize: 4 },
  27: { name: "I64", blockSize: 1, typeSize: 8 },
  28: { name: "F64", blockSize: 1, typeSize: 8 },
  29: { name: "IQ1_M", blockSize: 256, typeSize: 56 },
  30: { name: "BF16", blockSize: 1, typeSize: 2 },
  34: { name: "TQ1_0", blockSize: 256, typeSize: 54 },
  35: { name: "TQ2_0", blockSize: 256, typeSize: 66 },
  39: { name: "MXFP4", blockSize: 32, typeSize: 17 },
};

export interface GgufTensorInfo {
  readonly name: string;
  /** Dimensions as stored (ggml order: ne[0] is the fastest-varying, i.e. reversed from PyTorch). */
  readonly shape: number[];
  /** ggml type id (0 = F32, 1 = F16, 8 = Q8_0, ...). */
  readonly type: number;
  /** ggml type name, or `unknown(<id>)` for a type this reader does not know. */
  readonly typeName: string;
  /** Offset of the tensor's data relative to the start of the data section. */
  readonly offset: number;
  /** Absolute offset of the tensor's data in the file. */
  readonly fileOffset: number;
  /** Size of the tensor's data in bytes, or null for an unknown type. */
  readonly byteSize: number | null;
}

export interface GgufFile {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufMetadataEntry>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** Absolute file offset where the tensor data section starts. */
  readonly dataOffset: number;
  readonly fileSize: number;
}

/** Where bytes come from: a whole buffer in memory, or a file read in chunks. */
interface ByteSource {
  readonly size: number;
  /** Copies `length` bytes starting at `position` into `target` at `targetOffset`. */
  read(target: Uint8Array, targetOffset: number, length: number, position: number): void;
}

class BufferSource implements ByteSource {
  constructor(private readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  read(target: Uint8Array, targetOffset: number, length: number, position: number): void {
    target.set(this.bytes.subarray(position, position + length), targetOffset);
  }
}

class FileSource implements ByteSource {
  readonly size: number;
  constructor(private readonly fd: number) {
    this.size = fstatSync(fd).size;
  }
  read(target: Uint8Array, targetOffset: number, length: number, position: number): void {
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, target, targetOffset + done, length - done, position + done);
      if (n <= 0) throw new Error(`short read at byte ${position + done}`);
      done += n;
    }
  }
}

const CHUNK_BYTES = 1 << 20;
const MAX_ARRAY_NESTING = 8;
const MAX_DIMS = 4; // GGML_MAX_DIMS
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Sequential little-endian reader over a ByteSource with a sliding 1 MiB window. */
class Cursor {
  private window = new Uint8Array(0);
  private view = new DataView(this.window.buffer);
  private windowStart = 0;
  position = 0;

  constructor(
    private readonly source: ByteSource,
    private readonly label: string,
  ) {}

  get remaining(): number {
    return this.source.size - this.position;
  }

  /** Makes bytes [position, position + n) available in the window; throws on truncation. */
  private ensure(n: number, what: string): number {
    if (n > this.remaining) {
      throw new GgufError(
        "GGUF_TRUNCATED",
        `${this.label}: truncated while reading ${what} at byte ${this.position}: needs ${n} bytes but the file ` +
          `has ${this.remaining} left (file size ${this.source.size}); the file is incomplete or not GGUF — ` +
          "download it again",
      );
    }
    const start = this.position - this.windowStart;
    if (start >= 0 && start + n <= this.window.length) return start;
    const size = Math.min(Math.max(n, CHUNK_BYTES), this.remaining);
    if (this.window.length < size) {
      this.window = new Uint8Array(size);
      this.view = new DataView(this.window.buffer);
    }
    this.source.read(this.window, 0, size, this.position);
    this.windowStart = this.position;
    return 0;
  }

  u8(what: string): number {
    const at = this.ensure(1, what);
    this.position += 1;
    return this.window[at];
  }
  u32(what: string): number {
    const at = this.ensure(4, what);
    this.position += 4;
    return this.view.getUint32(at, true);
  }
  u64(what: string): bigint {
    const at = this.ensure(8, what);
    this.position += 8;
    return this.view.getBigUint64(at, true);
  }

  /** A uint64 count or size that must fit in a JS number and in the bytes left (each element >= minBytes). */
  count(what: string, minBytesEach: number): number {
    const start = this.position;
    const value = this.u64(what);
    if (value * BigInt(Math.max(1, minBytesEach)) > BigInt(this.remaining)) {
      throw new GgufError(
        "GGUF_BAD_COUNT",
        `${this.label}: ${what} at byte ${start} is ${value}, but only ${this.remaining} bytes remain: the file is ` +
          "corrupted or truncated",
      );
    }
    return Number(value);
  }

  bytes(n: number, what: string): Uint8Array {
    const at = this.ensure(n, what);
    this.position += n;
    return this.window.subarray(at, at + n);
  }

  string(what: string): string {
    const start = this.position;
    const length = this.count(`length of ${what}`, 1);
    const raw = this.bytes(length, what);
    try {
      return utf8.decode(raw);
    } catch {
      throw new GgufError(
        "GGUF_BAD_STRING",
        `${this.label}: ${what} at byte ${start} is not valid UTF-8: the file is corrupted`,
      );
    }
  }

  /** Reads `count` fixed-size elements into a fresh, aligned copy. */
  raw(count: number, elementBytes: number, what: string): ArrayBuffer {
    const total = count * elementBytes;
    const out = new Uint8Array(total);
    let done = 0;
    while (done < total) {
      const n = Math.min(CHUNK_BYTES, total - done);
      out.set(this.bytes(n, what), done);
      done += n;
    }
    return out.buffer;
  }
}

function readArray(cursor: Cursor, what: string, depth: number): GgufArrayValue {
  const typeAt = cursor.position;
  const elementType = cursor.u32(`element type of ${what}`);
  if (elementType > GgufValueType.FLOAT64) {
    throw new GgufError(
      "GGUF_BAD_TYPE",
      `GGUF array ${what} at byte ${typeAt} has element type ${elementType}; expected 0..12 — the file is corrupted`,
    );
  }
  const type = elementType as GgufValueType;
  const n = cursor.count(`element count of ${what}`, minValueSize(type));
  let values: GgufArray;
  switch (type) {
    case GgufValueType.UINT8:
      values = new Uint8Array(cursor.raw(n, 1, what));
      break;
    case GgufValueType.INT8:
      values = new Int8Array(cursor.raw(n, 1, what));
      break;
    case GgufValueType.UINT16:
      values = new Uint16Array(leCopy(cursor.raw(n, 2, what), 2));
      break;
    case GgufValueType.INT16:
      values = new Int16Array(leCopy(cursor.raw(n, 2, what), 2));
      break;
    case GgufValueType.UINT32:
      values = new Uint32Array(leCopy(cursor.raw(n, 4, what), 4));
      break;
    case GgufValueType.INT32:
      values = new Int32Array(leCopy(cursor.raw(n, 4, what), 4));
      break;
    case GgufValueType.FLOAT32:
      values = new Float32Array(leCopy(cursor.raw(n, 4, what), 4));
      break;
    case GgufValueType.FLOAT64:
      values = new Float64Array(leCopy(cursor.raw(n, 8, what), 8));
      break;
    case GgufValueType.UINT64:
      values = new BigUint64Array(leCopy(cursor.raw(n, 8, what), 8));
      break;
    case GgufValueType.INT64:
      values = new BigInt64Array(leCopy(cursor.raw(n, 8, what), 8));
      break;
    case GgufValueType.BOOL: {
      const bools: boolean[] = new Array(n);
      const raw = new Uint8Array(cursor.raw(n, 1, what));
      for (let i = 0; i < n; i++) bools[i] = raw[i] !== 0;
      values = bools;
      break;
    }
    case GgufValueType.STRING: {
      const strings: string[] = new Array(n);
      for (let i = 0; i < n; i++) strings[i] = cursor.string(`${what}[${i}]`);
      values = strings;
      break;
    }
    case GgufValueType.ARRAY: {
      if (depth >= MAX_ARRAY_NESTING) {
        throw new GgufError(
          "GGUF_BAD_TYPE",
          `GGUF array ${what} nests arrays deeper than ${MAX_ARRAY_NESTING} levels — the file is corrupted`,
        );
      }
      const nested: GgufArrayValue[] = new Array(n);
      for (let i = 0; i < n; i++) nested[i] = readArray(cursor, `${what}[${i}]`, depth + 1);
      values = nested;
      break;
    }
  }
  return { kind: "array", elementType: type, values };
}

/** GGUF is little-endian; on a big-endian host the bytes of each element would need swapping. */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
function leCopy(buffer: ArrayBuffer, elementBytes: number): ArrayBuffer {
  if (HOST_IS_LITTLE_ENDIAN) return buffer;
  const bytes = new Uint8Array(buffer);
  for (let i = 0; i < bytes.length; i += elementBytes) bytes.subarray(i, i + elementBytes).reverse();
  return buffer;
}

function readValue(cursor: Cursor, type: number, key: string): GgufValue {
  const what = `value of ${key}`;
  switch (type) {
    case GgufValueType.UINT8:
      return cursor.u8(what);
    case GgufValueType.INT8:
      return (cursor.u8(what) << 24) >> 24;
    case GgufValueType.UINT16:
      return new DataView(cursor.bytes(2, what).slice().buffer).getUint16(0, true);
    case GgufValueType.INT16:
      return new DataView(cursor.bytes(2, what).slice().buffer).getInt16(0, true);
    case GgufValueType.UINT32:
      return cursor.u32(what);
    case GgufValueType.INT32:
      return cursor.u32(what) | 0;
    case GgufValueType.FLOAT32:
      return new DataView(cursor.bytes(4, what).slice().buffer).getFloat32(0, true);
    case GgufValueType.FLOAT64:
      return new DataView(cursor.bytes(8, what).slice().buffer).getFloat64(0, true);
    case GgufValueType.BOOL:
      return cursor.u8(what) !== 0;
    case GgufValueType.STRING:
      return cursor.string(what);
    case GgufValueType.UINT64: {
      const v = cursor.u64(what);
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    case GgufValueType.INT64: {
      const v = BigInt.asIntN(64, cursor.u64(what));
      return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
    }
    case GgufValueType.ARRAY:
      return readArray(cursor, key, 0);
    default:
      throw new GgufError(
        "GGUF_BAD_TYPE",
        `GGUF metadata key "${key}" has value type ${type}; expected 0..12 — the file is corrupted`,
      );
  }
}

const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32

/** Any failure that is not already a GgufError (a read error, an allocation too large) becomes one. */
function parse(source: ByteSource, label: string): GgufFile {
  try {
    return parseSource(source, label);
  } catch (error) {
    if (error instanceof GgufError) throw error;
    if (error instanceof RangeError) {
      throw new GgufError(
        "GGUF_BAD_COUNT",
        `${label}: a length or count in the header is too large to hold in memory (${error.message}); the file is corrupted`,
        { cause: error },
      );
    }
    throw new GgufError("GGUF_IO", `${label}: cannot read the file: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function parseSource(source: ByteSource, label: string): GgufFile {
  const cursor = new Cursor(source, label);
  if (source.size < 4) {
    throw new GgufError(
      "GGUF_BAD_MAGIC",
      `${label} is ${source.size} bytes long; a GGUF file starts with the 4-byte magic "GGUF"`,
    );
  }
  const magic = cursor.u32("magic");
  if (magic !== GGUF_MAGIC) {
    const found = Buffer.from(new Uint32Array([magic]).buffer).toString("latin1");
    throw new GgufError(
      "GGUF_BAD_MAGIC",
      `${label} does not start with the GGUF magic "GGUF" (found ${JSON.stringify(found)}): not a GGUF file`,
    );
  }
  const version = cursor.u32("version");
  if (version !== 2 && version !== 3) {
    const hint =
      version === 1
        ? "GGUF v1 (uint32 lengths) is obsolete; convert the model again with a current llama.cpp"
        : (version & 0x00ffffff) === 0 && version >>> 24 <= 3
          ? "it looks like a big-endian GGUF file, which this reader does not support"
          : "the file is corrupted or from a newer GGUF revision";
    throw new GgufError(
      "GGUF_BAD_VERSION",
      `${label} is GGUF version ${version}; supported: 2 and 3 (${hint})`,
    );
  }
  const tensorCount = cursor.count("tensor count", 24);
  const kvCount = cursor.count("metadata key/value count", 12);

  const metadata = new Map<string, GgufMetadataEntry>();
  for (let i = 0; i < kvCount; i++) {
    const key = cursor.string(`key of metadata entry ${i}`);
    const typeAt = cursor.position;
    const type = cursor.u32(`value type of ${key}`);
    if (type > GgufValueType.FLOAT64) {
      throw new GgufError(
        "GGUF_BAD_TYPE",
        `${label}: metadata key "${key}" has value type ${type} at byte ${typeAt}; expected 0..12 — the file is corrupted`,
      );
    }
    if (metadata.has(key)) {
      throw new GgufError(
        "GGUF_DUPLICATE_KEY",
        `${label}: metadata key "${key}" appears twice — the file is corrupted`,
      );
    }
    metadata.set(key, { type: type as GgufValueType, value: readValue(cursor, type, key) });
  }

  let alignment = 32;
  const alignmentEntry = metadata.get("general.alignment");
  if (alignmentEntry !== undefined) {
    const a = alignmentEntry.value;
    if (typeof a !== "number" || a <= 0 || (a & (a - 1)) !== 0) {
      throw new GgufError(
        "GGUF_BAD_ALIGNMENT",
        `${label}: general.alignment is ${String(a)}; expected a power of two — the file is corrupted`,
      );
    }
    alignment = a;
  }

  const infos: { name: string; shape: number[]; type: number; offset: bigint }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = cursor.string(`name of tensor ${i}`);
    const nDims = cursor.u32(`dimension count of tensor "${name}"`);
    if (nDims > MAX_DIMS) {
      throw new GgufError(
        "GGUF_BAD_TENSOR",
        `${label}: tensor "${name}" has ${nDims} dimensions; ggml supports at most ${MAX_DIMS} — the file is corrupted`,
      );
    }
    const shape: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const dim = cursor.u64(`dimension ${d} of tensor "${name}"`);
      if (dim > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new GgufError(
          "GGUF_BAD_TENSOR",
          `${label}: tensor "${name}" dimension ${d} is ${dim}, which is absurd — the file is corrupted`,
        );
      }
      shape.push(Number(dim));
    }
    const type = cursor.u32(`type of tensor "${name}"`);
    const offset = cursor.u64(`offset of tensor "${name}"`);
    infos.push({ name, shape, type, offset });
  }

  const headerEnd = cursor.position;
  const dataOffset = Math.ceil(headerEnd / alignment) * alignment;
  const tensors: GgufTensorInfo[] = [];
  const seen = new Set<string>();
  for (const info of infos) {
    if (seen.has(info.name)) {
      throw new GgufError(
        "GGUF_BAD_TENSOR",
        `${label}: tensor "${info.name}" appears twice — the file is corrupted`,
      );
    }
    seen.add(info.name);
    if (info.offset % BigInt(alignment) !== 0n) {
      throw new GgufError(
        "GGUF_BAD_TENSOR",
        `${label}: tensor "${info.name}" data offset ${info.offset} is not a multiple of the alignment ${alignment}` +
          " — the file is corrupted",
      );
    }
    const traits = GGML_TYPES[info.type];
    const elements = info.shape.reduce((a, b) => a * b, 1);
    let byteSize: number | null = null;
    if (traits !== undefined) {
      if (info.shape.length > 0 && info.shape[0] % traits.blockSize !== 0) {
        throw new GgufError(
          "GGUF_BAD_TENSOR",
          `${label}: tensor "${info.name}" of type ${traits.name} has a first dimension ${info.shape[0]} that is not ` +
            `a multiple of the block size ${traits.blockSize} — the file is corrupted`,
        );
      }
      byteSize = (elements / traits.blockSize) * traits.typeSize;
    }
    const fileOffset = BigInt(dataOffset) + info.offset;
    if (fileOffset + BigInt(byteSize ?? 0) > BigInt(source.size)) {
      throw new GgufError(
        "GGUF_TRUNCATED",
        `${label}: tensor "${info.name}" needs bytes ${fileOffset}..${fileOffset + BigInt(byteSize ?? 0)} but the ` +
          `file has ${source.size} bytes: the file is truncated — download it again`,
      );
    }
    tensors.push({
      name: info.name,
      shape: info.shape,
      type: info.type,
      typeName: traits?.name ?? `unknown(${info.type})`,
      offset: Number(info.offset),
      fileOffset: Number(fileOffset),
      byteSize,
    });
  }
  return { version, metadata, tensors, alignment, dataOffset, fileSize: source.size };
}

/** Parses a GGUF file held in memory. */
export function parseGguf(bytes: Uint8Array, label = "GGUF data"): GgufFile {
  return parse(new BufferSource(bytes), label);
}

/** Reads the metadata and tensor table of a GGUF file, reading only the header's bytes (in 1 MiB chunks). */
export function readGguf(path: string): GgufFile {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw new GgufError("GGUF_NOT_FOUND", `cannot open GGUF file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return parse(new FileSource(fd), path);
  } finally {
    closeSync(fd);
  }
}

/** Human-readable name of a metadata value type ("string", "array", ...). */
export function ggufValueTypeName(type: number): string {
  return VALUE_TYPE_NAMES[type] ?? `unknown(${type})`;
}

// Typed accessors: each says which key was missing or had the wrong type.

function entryOf(file: GgufFile, key: string, required: boolean): GgufMetadataEntry | undefined {
  const entry = file.metadata.get(key);
  if (entry === undefined && required) {
    throw new GgufError(
      "GGUF_MISSING_KEY",
      `GGUF metadata has no key "${key}"; the file cannot be used for this`,
    );
  }
  return entry;
}

function wrongType(key: string, expected: string, entry: GgufMetadataEntry): GgufError {
  const found =
    entry.type === GgufValueType.ARRAY
      ? `array of ${ggufValueTypeName((entry.value as GgufArrayValue).elementType)}`
      : ggufValueTypeName(entry.type);
  return new GgufError("GGUF_WRONG_TYPE", `GGUF metadata key "${key}" should be ${expected} but is ${found}`);
}

export function ggufString(file: GgufFile, key: string): string | undefined {
  const entry = entryOf(file, key, false);
  if (entry === undefined) return undefined;
  if (typeof entry.value !== "string") throw wrongType(key, "a string", entry);
  return entry.value;
}

export function ggufNumber(file: GgufFile, key: string): number | undefined {
  const entry = entryOf(file, key, false);
  if (entry === undefined) return undefined;
  if (typeof entry.value === "number") return entry.value;
  if (typeof entry.value === "bigint") throw wrongType(key, "an integer that fits in a JS number", entry);
  throw wrongType(key, "a number", entry);
}

export function ggufBool(file: GgufFile, key: string): boolean | undefined {
  const entry = entryOf(file, key, false);
  if (entry === undefined) return undefined;
  if (typeof entry.value !== "boolean") throw wrongType(key, "a bool", entry);
  return entry.value;
}

export function ggufStringArray(file: GgufFile, key: string): string[] | undefined {
  const entry = entryOf(file, key, false);
  if (entry === undefined) return undefined;
  const v = entry.value;
  if (typeof v !== "object" || v === null || !("kind" in v) || v.elementType !== GgufValueType.STRING) {
    throw wrongType(key, "an array of strings", entry);
  }
  return v.values as string[];
}

/** A numeric array as plain numbers (64-bit integers must fit in a JS number). */
export function ggufNumberArray(file: GgufFile, key: string): number[] | undefined {
  const entry = entryOf(file, key, false);
  if (entry === undefined) return undefined;
  const v = entry.value;
  if (
    typeof v !== "object" ||
    v === null ||
    !("kind" in v) ||
    v.elementType === GgufValueType.STRING ||
    v.elementType === GgufValueType.ARRAY ||
    v.elementType === GgufValueType.BOOL
  ) {
    throw wrongType(key, "an array of numbers", entry);
  }
  const out: number[] = new Array(v.values.length);
  for (let i = 0; i < v.values.length; i++) out[i] = Number((v.values as ArrayLike<number | bigint>)[i]);
  return out;
}

/** The tokenizer part of a GGUF file's metadata (keys `tokenizer.ggml.*`), as llama.cpp reads it. */
export interface GgufTokenizerMetadata {
  /** "llama" (SentencePiece BPE), "gpt2" (byte-level BPE), "bert" (WordPiece), "t5", "rwkv", ... */
  model: string;
  /** Pre-tokenizer name (`tokenizer.ggml.pre`), e.g. "gpt-2", "llama-bpe", "default". */
  pre?: string;
  tokens: string[];
  scores?: number[];
  /** Per token: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. */
  tokenTypes?: number[];
  merges?: string[];
  bosTokenId?: number;
  eosTokenId?: number;
  unkTokenId?: number;
  sepTokenId?: number;
  padTokenId?: number;
  clsTokenId?: number;
  maskTokenId?: number;
  addBosToken?: boolean;
  addEosToken?: boolean;
  addSpacePrefix?: boolean;
  removeExtraWhitespaces?: boolean;
  chatTemplate?: string;
}

/** Extracts `tokenizer.ggml.*` from a parsed GGUF file; errors name the missing or malformed key. */
export function ggufTokenizerMetadata(file: GgufFile): GgufTokenizerMetadata {
  const model = ggufString(file, "tokenizer.ggml.model");
  if (model === undefined) {
    throw new GgufError(
      "GGUF_MISSING_KEY",
      'GGUF metadata has no "tokenizer.ggml.model": the file carries no tokenizer (use the model\'s tokenizer files)',
    );
  }
  const tokens = ggufStringArray(file, "tokenizer.ggml.tokens");
  if (tokens === undefined) {
    throw new GgufError(
      "GGUF_MISSING_KEY",
      'GGUF metadata has no "tokenizer.ggml.tokens": the vocabulary is missing',
    );
  }
  const scores = ggufNumberArray(file, "tokenizer.ggml.scores");
  const tokenTypes = ggufNumberArray(file, "tokenizer.ggml.token_type");
  for (const [name, arr] of [
    ["scores", scores],
    ["token_type", tokenTypes],
  ] as const) {
    if (arr !== undefined && arr.length !== tokens.length) {
      throw new GgufError(
        "GGUF_BAD_TOKENIZER",
        `GGUF tokenizer.ggml.${name} has ${arr.length} entries but there are ${tokens.length} tokens — the file is corrupted`,
      );
    }
  }
  const id = (key: string): number | undefined => {
    const v = ggufNumber(file, `tokenizer.ggml.${key}`);
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || v < 0 || v >= tokens.length) {
      throw new GgufError(
        "GGUF_BAD_TOKENIZER",
        `GGUF tokenizer.ggml.${key} is ${v}, outside the vocabulary of ${tokens.length} tokens — the file is corrupted`,
      );
    }
    return v;
  };
  const meta: GgufTokenizerMetadata = { model, tokens };
  const pre = ggufString(file, "tokenizer.ggml.pre");
  if (pre !== undefined) meta.pre = pre;
  if (scores !== undefined) meta.scores = scores;
  if (tokenTypes !== undefined) meta.tokenTypes = tokenTypes;
  const merges = ggufStringArray(file, "tokenizer.ggml.merges");
  if (merges !== undefined) meta.merges = merges;
  const ids: [keyof GgufTokenizerMetadata, string][] = [
    ["bosTokenId", "bos_token_id"],
    ["eosTokenId", "eos_token_id"],
    ["unkTokenId", "unknown_token_id"],
    ["sepTokenId", "seperator_token_id"],
    ["padTokenId", "padding_token_id"],
    ["clsTokenId", "cls_token_id"],
    ["maskTokenId", "mask_token_id"],
  ];
  for (const [field, key] of ids) {
    const v = id(key);
    if (v !== undefined) (meta as unknown as Record<string, unknown>)[field] = v;
  }
  const flags: [keyof GgufTokenizerMetadata, string][] = [
    ["addBosToken", "add_bos_token"],
    ["addEosToken", "add_eos_token"],
    ["addSpacePrefix", "add_space_prefix"],
    ["removeExtraWhitespaces", "remove_extra_whitespaces"],
  ];
  for (const [field, key] of flags) {
    const v = ggufBool(file, `tokenizer.ggml.${key}`);
    if (v !== undefined) (meta as unknown as Record<string, unknown>)[field] = v;
  }
  const template = ggufString(file, "tokenizer.chat_template");
  if (template !== undefined) meta.chatTemplate = template;
  return meta;
}
