// Validation of a safetensors header (the JSON between the 8-byte length prefix and the data). Pure: works on
// the header bytes and the size of the data section, touches no file. Every defect becomes a
// SafetensorsError with a stable code; nothing else is ever thrown.
//
// Layout (https://github.com/huggingface/safetensors, README "Format"):
//   u64 little-endian N | N bytes of UTF-8 JSON, space padded | data
//   JSON = { "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//            "__metadata__": {"<key>": "<string value>"} }
//   offsets are relative to the start of the data section; end - begin = numel * bytes per element.

import { AdaptlmError } from "../errors.js";
import type { StoredDtype } from "./tensor-source.js";

/** Typed error for every safetensors problem. `code` is one of the SAFETENSORS_* strings below. */
export class SafetensorsError extends AdaptlmError {}

/**
 * Codes: SAFETENSORS_IO (cannot open/read/stat), SAFETENSORS_TOO_SHORT (< 8 bytes),
 * SAFETENSORS_HEADER_TRUNCATED (header length beyond the file), SAFETENSORS_HEADER_TOO_LARGE (> 100 MB, as the
 * reference implementation), SAFETENSORS_HEADER_NOT_JSON (not UTF-8 or not JSON), SAFETENSORS_HEADER_NOT_OBJECT,
 * SAFETENSORS_BAD_METADATA, SAFETENSORS_BAD_ENTRY, SAFETENSORS_UNKNOWN_DTYPE, SAFETENSORS_BAD_SHAPE,
 * SAFETENSORS_BAD_OFFSETS (malformed or outside the data section), SAFETENSORS_SIZE_MISMATCH (offsets do not
 * span shape*dtype bytes), SAFETENSORS_OVERLAP, SAFETENSORS_DATA_TRUNCATED (file shrank after opening),
 * SAFETENSORS_NOT_FOUND, SAFETENSORS_WRONG_KIND (float read of an integer tensor or vice versa),
 * SAFETENSORS_UNSUPPORTED_DTYPE (a dtype that can be listed but not converted, e.g. F8), SAFETENSORS_INT_RANGE
 * (64-bit integer outside int32), SAFETENSORS_CLOSED, SAFETENSORS_BAD_INDEX (sharded index problems),
 * SAFETENSORS_BAD_INPUT (writer given inconsistent tensors), SAFETENSORS_NO_DATA (a tensor read from a source that
 * holds only the header, e.g. one fetched from the hub for `adaptlm info`).
 */
export type SafetensorsErrorCode =
  | "SAFETENSORS_IO"
  | "SAFETENSORS_TOO_SHORT"
  | "SAFETENSORS_HEADER_TRUNCATED"
  | "SAFETENSORS_HEADER_TOO_LARGE"
  | "SAFETENSORS_HEADER_NOT_JSON"
  | "SAFETENSORS_HEADER_NOT_OBJECT"
  | "SAFETENSORS_BAD_METADATA"
  | "SAFETENSORS_BAD_ENTRY"
  | "SAFETENSORS_UNKNOWN_DTYPE"
  | "SAFETENSORS_BAD_SHAPE"
  | "SAFETENSORS_BAD_OFFSETS"
  | "SAFETENSORS_SIZE_MISMATCH"
  | "SAFETENSORS_OVERLAP"
  | "SAFETENSORS_DATA_TRUNCATED"
  | "SAFETENSORS_NOT_FOUND"
  | "SAFETENSORS_WRONG_KIND"
  | "SAFETENSORS_UNSUPPORTED_DTYPE"
  | "SAFETENSORS_INT_RANGE"
  | "SAFETENSORS_CLOSED"
  | "SAFETENSORS_BAD_INDEX"
  | "SAFETENSORS_BAD_INPUT"
  | "SAFETENSORS_NO_DATA";

export function safetensorsError(
  code: SafetensorsErrorCode,
  message: string,
  cause?: unknown,
): SafetensorsError {
  return new SafetensorsError(code, message, cause === undefined ? undefined : { cause });
}

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<StoredDtype, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  U16: 2,
  I16: 2,
  F16: 2,
  BF16: 2,
  U32: 4,
  I32: 4,
  F32: 4,
  U64: 8,
  I64: 8,
  F64: 8,
};

/** The reference implementation refuses headers above 100 MB; so do we (it also bounds JSON.parse time). */
export const MAX_HEADER_BYTES = 100_000_000;

/** One validated header entry. `begin`/`end` are offsets into the data section. */
export interface HeaderEntry {
  dtype: StoredDtype;
  shape: number[];
  begin: number;
  end: number;
}

export interface ParsedHeader {
  metadata: Record<string, string>;
  /** Entries keyed by tensor name; `names` holds the same keys sorted. */
  entries: Map<string, HeaderEntry>;
  names: string[];
}

/** Human-readable byte count for messages ("9.0 GB", "12.0 MB", "17 bytes"). */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} bytes`;
}

/**
 * Checks the 8-byte little-endian length prefix of a safetensors file of `fileSize` bytes and returns the
 * header length N (the JSON that follows spans bytes [8, 8 + N)). Pure, so a reader that has only the first
 * bytes (a file, or an HTTP Range answer) applies the same checks. Throws SafetensorsError
 * SAFETENSORS_TOO_SHORT (fewer than 8 bytes), SAFETENSORS_HEADER_TRUNCATED (N beyond the file),
 * SAFETENSORS_HEADER_TOO_LARGE (N above MAX_HEADER_BYTES).
 */
export function headerLengthOf(prefix: Uint8Array, fileSize: number, label: string): number {
  if (fileSize < 8 || prefix.byteLength < 8) {
    throw safetensorsError(
      "SAFETENSORS_TOO_SHORT",
      `${label} is ${fileSize} bytes, shorter than the 8-byte safetensors header length: file is truncated or not safetensors`,
    );
  }
  const claimed = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (claimed > BigInt(fileSize - 8)) {
    throw safetensorsError(
      "SAFETENSORS_HEADER_TRUNCATED",
      `safetensors header of ${label} claims ${formatBytes(Number(claimed))} but the file is ${formatBytes(fileSize)}: ` +
        "file is truncated or not safetensors",
    );
  }
  const headerLength = Number(claimed);
  if (headerLength > MAX_HEADER_BYTES) {
    throw safetensorsError(
      "SAFETENSORS_HEADER_TOO_LARGE",
      `safetensors header of ${label} is ${formatBytes(headerLength)}, above the ${formatBytes(MAX_HEADER_BYTES)} limit: file is corrupt or not safetensors`,
    );
  }
  return headerLength;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Validates a header. `headerBytes` is the JSON (N bytes), `dataSize` the number of bytes after it, `label`
 * the file name used in messages. Returns the entries; throws SafetensorsError on any defect.
 */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  dataSize: number,
  label: string,
): ParsedHeader {
  let text: string;
  let json: unknown;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
    json = JSON.parse(text);
  } catch (error) {
    throw safetensorsError(
      "SAFETENSORS_HEADER_NOT_JSON",
      `safetensors header of ${label} is not valid UTF-8 JSON (${error instanceof Error ? error.message : String(error)}): ` +
        "the file is corrupt or not a safetensors file",
      error,
    );
  }
  if (!isPlainObject(json)) {
    throw safetensorsError(
      "SAFETENSORS_HEADER_NOT_OBJECT",
      `safetensors header of ${label} must be a JSON object of tensors but is ${json === null ? "null" : Array.isArray(json) ? "an array" : typeof json}: the file is corrupt or not safetensors`,
    );
  }
  const metadata: Record<string, string> = {};
  const entries = new Map<string, HeaderEntry>();
  for (const [name, value] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (!isPlainObject(value)) {
        throw safetensorsError(
          "SAFETENSORS_BAD_METADATA",
          `__metadata__ in ${label} must be an object of strings, found ${Array.isArray(value) ? "an array" : typeof value}`,
        );
      }
      for (const [key, item] of Object.entries(value)) {
        if (typeof item !== "string") {
          throw safetensorsError(
            "SAFETENSORS_BAD_METADATA",
            `__metadata__["${key}"] in ${label} must be a string (safetensors metadata is string -> string), found ${typeof item}`,
          );
        }
        metadata[key] = item;
      }
      continue;
    }
    entries.set(name, parseEntry(name, value, dataSize, label));
  }
  checkNoOverlap(entries, label);
  const names = [...entries.keys()].sort();
  return { metadata, entries, names };
}

function parseEntry(name: string, value: unknown, dataSize: number, label: string): HeaderEntry {
  const where = `tensor "${name}" in ${label}`;
  if (!isPlainObject(value)) {
    throw safetensorsError(
      "SAFETENSORS_BAD_ENTRY",
      `${where} must be an object {dtype, shape, data_offsets}, found ${Array.isArray(value) ? "an array" : value === null ? "null" : typeof value}`,
    );
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== "string") {
    throw safetensorsError("SAFETENSORS_BAD_ENTRY", `${where} has no string "dtype" (found ${typeof dtype})`);
  }
  if (!Object.hasOwn(DTYPE_BYTES, dtype)) {
    throw safetensorsError(
      "SAFETENSORS_UNKNOWN_DTYPE",
      `${where} has dtype "${dtype.slice(0, 40)}", which adaptlm does not know; known dtypes: ${Object.keys(DTYPE_BYTES).join(", ")}`,
    );
  }
  const storedDtype = dtype as StoredDtype;
  if (!Array.isArray(shape) || !shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)) {
    throw safetensorsError(
      "SAFETENSORS_BAD_SHAPE",
      `${where} has shape ${JSON.stringify(shape)?.slice(0, 80)}; expected an array of non-negative integers`,
    );
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((offset) => Number.isSafeInteger(offset) && offset >= 0)
  ) {
    throw safetensorsError(
      "SAFETENSORS_BAD_OFFSETS",
      `${where} has data_offsets ${JSON.stringify(offsets)?.slice(0, 80)}; expected [begin, end], two non-negative integers`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataSize) {
    throw safetensorsError(
      "SAFETENSORS_BAD_OFFSETS",
      `${where} has data_offsets [${begin}, ${end}] but the data section is ${dataSize} bytes: ` +
        (end > dataSize ? "the file is truncated or the header is corrupt" : "begin is after end"),
    );
  }
  const byteLength = end - begin;
  const itemBytes = DTYPE_BYTES[storedDtype];
  // numel * itemBytes, stopping as soon as it exceeds byteLength (so absurd shapes cannot overflow).
  let expected = shape.includes(0) ? 0 : itemBytes;
  for (const dim of shape as number[]) {
    if (expected > byteLength) break;
    expected *= dim;
  }
  if (expected !== byteLength) {
    throw safetensorsError(
      "SAFETENSORS_SIZE_MISMATCH",
      `${where}: shape [${(shape as number[]).join(", ")}] of ${storedDtype} needs ${expected > byteLength ? "more than " + byteLength : expected} bytes ` +
        `but data_offsets [${begin}, ${end}] span ${byteLength} bytes: the header is corrupt`,
    );
  }
  return { dtype: storedDtype, shape: (shape as number[]).map((dim) => dim + 0), begin, end };
}

function checkNoOverlap(entries: Map<string, HeaderEntry>, label: string): void {
  const ranges = [...entries].filter(([, entry]) => entry.end > entry.begin);
  ranges.sort((a, b) => a[1].begin - b[1].begin);
  for (let i = 1; i < ranges.length; i++) {
    const [previousName, previous] = ranges[i - 1];
    const [name, entry] = ranges[i];
    if (entry.begin < previous.end) {
      throw safetensorsError(
        "SAFETENSORS_OVERLAP",
        `tensors "${previousName}" [${previous.begin}, ${previous.end}) and "${name}" [${entry.begin}, ${entry.end}) ` +
          `overlap in ${label}: the header is corrupt`,
      );
    }
  }
}
