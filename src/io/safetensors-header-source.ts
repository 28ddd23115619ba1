// A safetensors file known only by its header: names, dtypes and shapes without the data. `adaptlm info` on a
// hub id fetches just the first 8 + N bytes of each weight file (hub.ts); this turns those bytes into a
// TensorSource, so the same code that describes a local checkpoint describes a remote one. Reading a tensor is
// a typed error, never zeros.

import {
  type HeaderEntry,
  headerLengthOf,
  type ParsedHeader,
  parseSafetensorsHeader,
  safetensorsError,
} from "./safetensors-header.js";
import type { LoadedTensor, StoredTensorInfo, TensorSource } from "./tensor-source.js";

export class SafetensorsHeaderSource implements TensorSource {
  /** The file name (or hub path) used in messages. */
  readonly label: string;
  /** Size of the whole file in bytes, as the server reported it. */
  readonly fileSize: number;
  readonly metadata: Readonly<Record<string, string>>;
  private readonly entries: Map<string, HeaderEntry>;
  private readonly sortedNames: string[];

  /** Use `safetensorsHeaderSource`. */
  constructor(label: string, fileSize: number, header: ParsedHeader) {
    this.label = label;
    this.fileSize = fileSize;
    this.metadata = Object.freeze({ ...header.metadata });
    this.entries = header.entries;
    this.sortedNames = header.names;
  }

  names(): string[] {
    return [...this.sortedNames];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  info(name: string): StoredTensorInfo {
    const entry = this.entries.get(name);
    if (!entry) {
      throw safetensorsError(
        "SAFETENSORS_NOT_FOUND",
        `no tensor "${name}" in the header of ${this.label} (${this.sortedNames.length} tensors)`,
      );
    }
    return { dtype: entry.dtype, shape: [...entry.shape], byteLength: entry.end - entry.begin };
  }

  read(name: string): LoadedTensor {
    throw this.noData(name);
  }

  readFloat32(name: string): Float32Array {
    throw this.noData(name);
  }

  readFloat32Into(name: string, _out: Float32Array): void {
    throw this.noData(name);
  }

  readInt32(name: string): Int32Array {
    throw this.noData(name);
  }

  close(): void {}

  private noData(name: string): Error {
    return safetensorsError(
      "SAFETENSORS_NO_DATA",
      `cannot read tensor "${name}": only the header of ${this.label} was fetched; ` +
        "download the weights (adaptlm pull) to load the model",
    );
  }
}

/**
 * Validates the first bytes of a safetensors file of `fileSize` bytes (the 8-byte length prefix followed by at
 * least the N header bytes; more is ignored) with the same checks as opening a file, and returns a header-only
 * source. Throws SafetensorsError (SAFETENSORS_TOO_SHORT, SAFETENSORS_HEADER_TRUNCATED, _TOO_LARGE and every
 * header code of parseSafetensorsHeader).
 */
export function safetensorsHeaderSource(
  prefix: Uint8Array,
  fileSize: number,
  label: string,
): SafetensorsHeaderSource {
  const headerLength = headerLengthOf(prefix, fileSize, label);
  if (prefix.byteLength < 8 + headerLength) {
    throw safetensorsError(
      "SAFETENSORS_HEADER_TRUNCATED",
      `only ${prefix.byteLength} bytes of ${label} are at hand but its header ends at byte ${8 + headerLength}`,
    );
  }
  const header = parseSafetensorsHeader(
    prefix.subarray(8, 8 + headerLength),
    fileSize - 8 - headerLength,
    label,
  );
  return new SafetensorsHeaderSource(label, fileSize, header);
}
