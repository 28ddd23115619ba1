// safetensors files: open (header only), read tensors on demand, write atomically.
//
// Memory: opening reads only the 8-byte prefix and the JSON header. Each `read` allocates exactly the output
// array and fills it with positional reads (F32 straight into the output; F16/BF16/F64/I64 through a bounded
// scratch chunk), so loading a model never holds the file and a converted copy at the same time.

import { closeSync, fstatSync, openSync } from "node:fs";
import { basename } from "node:path";
import { writeFileAtomicStreaming } from "./atomic-file.js";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "./half-float.js";
import { hostIsLittleEndian, readAt, swapBytesInPlace } from "./positional-read.js";
import {
  DTYPE_BYTES,
  type HeaderEntry,
  headerLengthOf,
  parseSafetensorsHeader,
  SafetensorsError,
  safetensorsError,
} from "./safetensors-header.js";
import {
  type LoadedTensor,
  type StoredDtype,
  type StoredTensorInfo,
  shapeSize,
  type TensorSource,
} from "./tensor-source.js";

export { SafetensorsError, type SafetensorsErrorCode } from "./safetensors-header.js";

const FLOAT_DTYPES: ReadonlySet<StoredDtype> = new Set(["F16", "BF16", "F32", "F64"]);
const INT_DTYPES: ReadonlySet<StoredDtype> = new Set([
  "BOOL",
  "U8",
  "I8",
  "U16",
  "I16",
  "U32",
  "I32",
  "U64",
  "I64",
]);

/** Elements converted per scratch chunk (bounded extra memory for converting reads: at most 8 MiB). */
const CHUNK_ELEMENTS = 1 << 20;

/** An open safetensors file. Holds one file descriptor until `close()`. */
export class SafetensorsFile implements TensorSource {
  readonly path: string;
  /** The `__metadata__` map (string -> string), empty when absent. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Byte offset of the data section in the file (8 + header length). */
  readonly dataStart: number;
  private fd: number;
  private readonly entries: Map<string, HeaderEntry>;
  private readonly sortedNames: string[];
  private readonly label: string;

  /** Use `openSafetensors(path)`. */
  constructor(
    path: string,
    fd: number,
    dataStart: number,
    header: ReturnType<typeof parseSafetensorsHeader>,
  ) {
    this.path = path;
    this.fd = fd;
    this.dataStart = dataStart;
    this.metadata = Object.freeze({ ...header.metadata });
    this.entries = header.entries;
    this.sortedNames = header.names;
    this.label = basename(path);
  }

  names(): string[] {
    return [...this.sortedNames];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  info(name: string): StoredTensorInfo {
    const entry = this.entry(name);
    return { dtype: entry.dtype, shape: [...entry.shape], byteLength: entry.end - entry.begin };
  }

  /** Absolute byte range [begin, end) of a tensor's data in the file (for tools that map it themselves). */
  fileRange(name: string): [number, number] {
    const entry = this.entry(name);
    return [this.dataStart + entry.begin, this.dataStart + entry.end];
  }

  read(name: string): LoadedTensor {
    const entry = this.entry(name);
    if (FLOAT_DTYPES.has(entry.dtype))
      return { dtype: entry.dtype, shape: [...entry.shape], data: this.readFloat32(name) };
    if (INT_DTYPES.has(entry.dtype))
      return { dtype: entry.dtype, shape: [...entry.shape], data: this.readInt32(name) };
    throw safetensorsError(
      "SAFETENSORS_UNSUPPORTED_DTYPE",
      `tensor "${name}" in ${this.label} has dtype ${entry.dtype}, which adaptlm cannot convert yet; ` +
        "convert the checkpoint to F32, F16 or BF16",
    );
  }

  /** Float dtypes (F32, F16, BF16, F64) as a Float32Array of numel elements. */
  readFloat32(name: string): Float32Array {
    const out = new Float32Array(shapeSize(this.entry(name).shape));
    this.readFloat32Into(name, out);
    return out;
  }

  /** readFloat32 into `out` (numel elements), so a loader fills a parameter without a second copy. */
  readFloat32Into(name: string, out: Float32Array): void {
    const entry = this.entry(name);
    const count = shapeSize(entry.shape);
    checkDestination(name, this.label, out, count);
    const position = this.dataStart + entry.begin;
    switch (entry.dtype) {
      case "F32": {
        const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
        this.readExactly(name, bytes, position);
        if (!hostIsLittleEndian) swapBytesInPlace(bytes, 4);
        return;
      }
      case "F16":
      case "BF16": {
        const convert = entry.dtype === "F16" ? f16ToF32 : bf16ToF32;
        this.readInChunks(name, position, count, 2, (chunk, start) => {
          const bits = new Uint16Array(chunk.buffer, chunk.byteOffset, chunk.byteLength / 2);
          convert(bits, out.subarray(start, start + bits.length));
        });
        return;
      }
      case "F64": {
        this.readInChunks(name, position, count, 8, (chunk, start) => {
          const values = new Float64Array(chunk.buffer, chunk.byteOffset, chunk.byteLength / 8);
          for (let i = 0; i < values.length; i++) out[start + i] = values[i];
        });
        return;
      }
      default:
        throw safetensorsError(
          "SAFETENSORS_WRONG_KIND",
          `tensor "${name}" in ${this.label} is ${entry.dtype}, not a float tensor; read it with readInt32/read`,
        );
    }
  }

  /**
   * Integer and boolean dtypes as an Int32Array of numel elements. I64/U64/U32 values outside the int32 range
   * throw SAFETENSORS_INT_RANGE (token ids, labels and positions always fit).
   */
  readInt32(name: string): Int32Array {
    const entry = this.entry(name);
    if (!INT_DTYPES.has(entry.dtype)) {
      throw safetensorsError(
        "SAFETENSORS_WRONG_KIND",
        `tensor "${name}" in ${this.label} is ${entry.dtype}, not an integer tensor; read it with readFloat32/read`,
      );
    }
    const count = shapeSize(entry.shape);
    const out = new Int32Array(count);
    const position = this.dataStart + entry.begin;
    const width = DTYPE_BYTES[entry.dtype];
    if (entry.dtype === "I32") {
      const bytes = new Uint8Array(out.buffer);
      this.readExactly(name, bytes, position);
      if (!hostIsLittleEndian) swapBytesInPlace(bytes, 4);
      return out;
    }
    this.readInChunks(name, position, count, width, (chunk, start) => {
      const n = chunk.byteLength / width;
      switch (entry.dtype) {
        case "BOOL":
        case "U8":
          for (let i = 0; i < n; i++) out[start + i] = chunk[i];
          break;
        case "I8": {
          const view = new Int8Array(chunk.buffer, chunk.byteOffset, n);
          for (let i = 0; i < n; i++) out[start + i] = view[i];
          break;
        }
        case "U16":
        case "I16": {
          const view =
            entry.dtype === "U16"
              ? new Uint16Array(chunk.buffer, chunk.byteOffset, n)
              : new Int16Array(chunk.buffer, chunk.byteOffset, n);
          for (let i = 0; i < n; i++) out[start + i] = view[i];
          break;
        }
        case "U32": {
          const view = new Uint32Array(chunk.buffer, chunk.byteOffset, n);
          for (let i = 0; i < n; i++) {
            if (view[i] > 0x7fffffff) throw this.rangeError(name, start + i, String(view[i]));
            out[start + i] = view[i];
          }
          break;
        }
        case "I64":
        case "U64": {
          // Little-endian pairs (low, high) of 32-bit words; in range iff high is the sign extension of low
          // (I64) or zero with low < 2^31 (U64).
          const words = new Int32Array(chunk.buffer, chunk.byteOffset, n * 2);
          const signed = entry.dtype === "I64";
          for (let i = 0; i < n; i++) {
            const low = words[2 * i];
            const high = words[2 * i + 1];
            const fits = signed ? high === (low < 0 ? -1 : 0) : high === 0 && low >= 0;
            if (!fits) {
              const exact = new DataView(chunk.buffer, chunk.byteOffset + i * 8, 8);
              const value = signed ? exact.getBigInt64(0, true) : exact.getBigUint64(0, true);
              throw this.rangeError(name, start + i, value.toString());
            }
            out[start + i] = low;
          }
          break;
        }
        default:
          break;
      }
    });
    return out;
  }

  /** The raw little-endian bytes of a tensor (a fresh copy), for dtypes adaptlm does not convert. */
  readBytes(name: string): Uint8Array {
    const entry = this.entry(name);
    const bytes = new Uint8Array(entry.end - entry.begin);
    this.readExactly(name, bytes, this.dataStart + entry.begin);
    return bytes;
  }

  close(): void {
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      closeSync(fd);
    }
  }

  private entry(name: string): HeaderEntry {
    if (this.fd < 0) {
      throw safetensorsError(
        "SAFETENSORS_CLOSED",
        `${this.label} was closed; open it again to read "${name}"`,
      );
    }
    const entry = this.entries.get(name);
    if (entry === undefined) {
      throw safetensorsError(
        "SAFETENSORS_NOT_FOUND",
        `no tensor "${name}" in ${this.path} (it has ${this.sortedNames.length} tensors${
          this.sortedNames.length > 0 ? `, e.g. "${this.sortedNames[0]}"` : ""
        }): check the name or the model type`,
      );
    }
    return entry;
  }

  private rangeError(name: string, index: number, value: string): SafetensorsError {
    return safetensorsError(
      "SAFETENSORS_INT_RANGE",
      `tensor "${name}" in ${this.label} holds ${value} at element ${index}, outside the int32 range adaptlm uses for integer tensors`,
    );
  }

  private readExactly(name: string, target: Uint8Array, position: number): void {
    let got: number;
    try {
      got = readAt(this.fd, target, position);
    } catch (error) {
      throw safetensorsError(
        "SAFETENSORS_IO",
        `cannot read tensor "${name}" from ${this.path}: ${error instanceof Error ? error.message : String(error)}`,
        error,
      );
    }
    if (got !== target.byteLength) {
      throw safetensorsError(
        "SAFETENSORS_DATA_TRUNCATED",
        `tensor "${name}" in ${this.path} ends at byte ${position + target.byteLength} but the file ends at byte ${position + got}: ` +
          "the file was truncated or replaced after it was opened",
      );
    }
  }

  /** Reads `count` elements of `width` bytes in bounded chunks, byte-swapped to host order, and hands each on. */
  private readInChunks(
    name: string,
    position: number,
    count: number,
    width: number,
    consume: (chunk: Uint8Array, firstElement: number) => void,
  ): void {
    const scratch = new Uint8Array(Math.min(count, CHUNK_ELEMENTS) * width);
    for (let start = 0; start < count; start += CHUNK_ELEMENTS) {
      const n = Math.min(CHUNK_ELEMENTS, count - start);
      const chunk = scratch.subarray(0, n * width);
      this.readExactly(name, chunk, position + start * width);
      if (!hostIsLittleEndian) swapBytesInPlace(chunk, width);
      consume(chunk, start);
    }
  }
}

function checkDestination(name: string, label: string, out: Float32Array, count: number): void {
  if (out.length !== count) {
    throw safetensorsError(
      "SAFETENSORS_BAD_INPUT",
      `cannot read tensor "${name}" of ${label} (${count} elements) into an array of ${out.length}`,
    );
  }
}

/**
 * Opens a safetensors file: reads and validates the header only (see safetensors-header.ts for every check).
 * Throws SafetensorsError: SAFETENSORS_IO (missing/unreadable), SAFETENSORS_TOO_SHORT,
 * SAFETENSORS_HEADER_TRUNCATED, SAFETENSORS_HEADER_TOO_LARGE, and the header codes. The caller must `close()`.
 */
export function openSafetensors(path: string): SafetensorsFile {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw safetensorsError(
      "SAFETENSORS_IO",
      `cannot open safetensors file ${path}: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
  try {
    const label = basename(path);
    let fileSize: number;
    try {
      const stats = fstatSync(fd);
      if (!stats.isFile()) throw new Error("not a regular file");
      fileSize = stats.size;
    } catch (error) {
      throw safetensorsError(
        "SAFETENSORS_IO",
        `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`,
        error,
      );
    }
    const prefix = new Uint8Array(8);
    const prefixRead = fileSize < 8 ? 0 : readAt(fd, prefix, 0);
    const headerLength = headerLengthOf(prefix.subarray(0, prefixRead), fileSize, label);
    const headerBytes = new Uint8Array(headerLength);
    if (readAt(fd, headerBytes, 8) !== headerLength) {
      throw safetensorsError(
        "SAFETENSORS_HEADER_TRUNCATED",
        `${label} ended while reading its header: file is truncated`,
      );
    }
    const header = parseSafetensorsHeader(headerBytes, fileSize - 8 - headerLength, label);
    return new SafetensorsFile(path, fd, 8 + headerLength, header);
  } catch (error) {
    closeSync(fd);
    if (error instanceof SafetensorsError) throw error;
    throw safetensorsError(
      "SAFETENSORS_IO",
      `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
}

/**
 * Reads every tensor of a (small) safetensors file into memory: a Map in sorted name order. For models use
 * `openSafetensors` and read tensors one at a time. Errors as openSafetensors / SafetensorsFile.read.
 */
export function readSafetensors(path: string): {
  tensors: Map<string, LoadedTensor>;
  metadata: Record<string, string>;
} {
  const file = openSafetensors(path);
  try {
    const tensors = new Map<string, LoadedTensor>();
    for (const name of file.names()) tensors.set(name, file.read(name));
    return { tensors, metadata: { ...file.metadata } };
  } finally {
    file.close();
  }
}

/** Dtypes `writeSafetensors` can store. */
export type WritableDtype = "F32" | "F16" | "BF16" | "F64" | "I32" | "I64";

/**
 * A tensor to write. `data` length must equal the product of `shape`. Default dtype: Float32Array -> F32,
 * Float64Array -> F64, Int32Array -> I32, BigInt64Array -> I64. Float data can be stored as F16/BF16 (rounded
 * to nearest even), F32 or F64; Int32Array/BigInt64Array as I32 or I64.
 */
export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array;
  dtype?: WritableDtype;
}

/**
 * Writes a safetensors file atomically (temporary file + fsync + rename): tensors laid out in sorted name
 * order, header JSON padded with spaces so that 8 + header length is a multiple of 8, `__metadata__` first
 * when given (what the golden files and the Python library produce). Streams tensor by tensor, converting in
 * bounded chunks. Throws SafetensorsError SAFETENSORS_BAD_INPUT for inconsistent input (shape/data mismatch,
 * impossible dtype conversion, I32 overflow, reserved name "__metadata__") and AtomicWriteError on I/O failure.
 */
export function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, TensorToWrite> | Readonly<Record<string, TensorToWrite>>,
  metadata?: Readonly<Record<string, string>>,
): void {
  const list: [string, TensorToWrite][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== "string") {
        throw safetensorsError(
          "SAFETENSORS_BAD_INPUT",
          `metadata "${key}" must be a string, got ${typeof value}`,
        );
      }
    }
    header.__metadata__ = { ...metadata };
  }
  const plan: { name: string; tensor: TensorToWrite; dtype: WritableDtype }[] = [];
  let offset = 0;
  for (const [name, tensor] of list) {
    if (name === "__metadata__") {
      throw safetensorsError(
        "SAFETENSORS_BAD_INPUT",
        `"__metadata__" is reserved and cannot be a tensor name`,
      );
    }
    const dtype = chooseDtype(name, tensor);
    if (!tensor.shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)) {
      throw safetensorsError(
        "SAFETENSORS_BAD_INPUT",
        `tensor "${name}" has invalid shape [${tensor.shape.join(", ")}]`,
      );
    }
    const count = shapeSize(tensor.shape);
    if (count !== tensor.data.length) {
      throw safetensorsError(
        "SAFETENSORS_BAD_INPUT",
        `tensor "${name}" has shape [${tensor.shape.join(", ")}] (${count} elements) but ${tensor.data.length} values`,
      );
    }
    const byteLength = count * DTYPE_BYTES[dtype];
    header[name] = { dtype, shape: [...tensor.shape], data_offsets: [offset, offset + byteLength] };
    offset += byteLength;
    plan.push({ name, tensor, dtype });
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const paddedLength = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const prefixAndHeader = new Uint8Array(8 + paddedLength).fill(0x20);
  new DataView(prefixAndHeader.buffer).setBigUint64(0, BigInt(paddedLength), true);
  prefixAndHeader.set(json, 8);
  writeFileAtomicStreaming(path, (append) => {
    append(prefixAndHeader);
    for (const { name, tensor, dtype } of plan) writeTensorData(name, tensor.data, dtype, append);
  });
}

function chooseDtype(name: string, tensor: TensorToWrite): WritableDtype {
  const data = tensor.data;
  const isFloat = data instanceof Float32Array || data instanceof Float64Array;
  const defaultDtype: WritableDtype =
    data instanceof Float32Array
      ? "F32"
      : data instanceof Float64Array
        ? "F64"
        : data instanceof Int32Array
          ? "I32"
          : "I64";
  const dtype = tensor.dtype ?? defaultDtype;
  const floatTarget = dtype === "F32" || dtype === "F16" || dtype === "BF16" || dtype === "F64";
  if (!(dtype in DTYPE_BYTES) || floatTarget !== isFloat) {
    throw safetensorsError(
      "SAFETENSORS_BAD_INPUT",
      `tensor "${name}": cannot store ${data.constructor.name} as ${dtype}; float data needs F32/F16/BF16/F64, integer data I32/I64`,
    );
  }
  return dtype;
}

/** Encodes data to little-endian `dtype` bytes in bounded chunks and appends them. */
function writeTensorData(
  name: string,
  data: Float32Array | Float64Array | Int32Array | BigInt64Array,
  dtype: WritableDtype,
  append: (bytes: Uint8Array) => void,
): void {
  const width = DTYPE_BYTES[dtype];
  for (let start = 0; start < data.length; start += CHUNK_ELEMENTS) {
    const part = data.subarray(start, Math.min(data.length, start + CHUNK_ELEMENTS));
    let bytes: Uint8Array;
    switch (dtype) {
      case "F32":
        bytes = asBytes(part instanceof Float32Array ? part : Float32Array.from(part as Float64Array));
        break;
      case "F64":
        bytes = asBytes(part instanceof Float64Array ? part : Float64Array.from(part as Float32Array));
        break;
      case "F16":
      case "BF16": {
        const bits = new Uint16Array(part.length);
        (dtype === "F16" ? f32ToF16 : f32ToBf16)(part as Float32Array | Float64Array, bits);
        bytes = asBytes(bits);
        break;
      }
      case "I32":
        if (part instanceof BigInt64Array) {
          const narrowed = new Int32Array(part.length);
          for (let i = 0; i < part.length; i++) {
            if (part[i] > 2147483647n || part[i] < -2147483648n) {
              throw safetensorsError(
                "SAFETENSORS_BAD_INPUT",
                `tensor "${name}": value ${part[i]} at element ${start + i} does not fit I32; store it as I64`,
              );
            }
            narrowed[i] = Number(part[i]);
          }
          bytes = asBytes(narrowed);
        } else {
          bytes = asBytes(part as Int32Array);
        }
        break;
      case "I64": {
        const wide =
          part instanceof BigInt64Array ? part : BigInt64Array.from(part as Int32Array, (v) => BigInt(v));
        bytes = asBytes(wide);
        break;
      }
    }
    if (!hostIsLittleEndian) {
      bytes = bytes.slice();
      swapBytesInPlace(bytes, width);
    }
    append(bytes);
  }
}

function asBytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
