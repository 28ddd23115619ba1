// Test helpers that build safetensors bytes by hand (independently of src/io's writer), read them back with
// a plain reference parser (readFileSync + JSON + DataView), and a small seeded RNG.

import { readFileSync } from "node:fs";

/** 8-byte LE length + header text (space padded to a multiple of 8 unless `pad` is false) + data. */
export function buildSafetensorsBytes(header: unknown, data: Uint8Array, pad = true): Uint8Array {
  let text = typeof header === "string" ? header : JSON.stringify(header);
  if (pad) while ((8 + Buffer.byteLength(text)) % 8 !== 0) text += " ";
  const json = Buffer.from(text, "utf8");
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Little-endian bytes of values in the given element format. */
export function leBytes(
  kind: "f32" | "f64" | "u16" | "i32" | "i64",
  values: readonly (number | bigint)[],
): Uint8Array {
  const width = kind === "u16" ? 2 : kind === "f32" || kind === "i32" ? 4 : 8;
  const view = new DataView(new ArrayBuffer(values.length * width));
  values.forEach((value, i) => {
    if (kind === "f32") view.setFloat32(i * 4, Number(value), true);
    else if (kind === "f64") view.setFloat64(i * 8, Number(value), true);
    else if (kind === "u16") view.setUint16(i * 2, Number(value), true);
    else if (kind === "i32") view.setInt32(i * 4, Number(value), true);
    else view.setBigInt64(i * 8, BigInt(value), true);
  });
  return new Uint8Array(view.buffer);
}

export interface ReferenceTensor {
  dtype: string;
  shape: number[];
  /** F32 values as numbers, I64 values as bigint. */
  values: (number | bigint)[];
}

/** Reference reader for small F32/I64 files: whole file in memory, DataView element reads. */
export function referenceRead(path: string): { metadata: unknown; tensors: Map<string, ReferenceTensor> } {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8")) as Record<string, unknown>;
  const tensors = new Map<string, ReferenceTensor>();
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const entry = value as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const start = 8 + headerLength + entry.data_offsets[0];
    const end = 8 + headerLength + entry.data_offsets[1];
    const values: (number | bigint)[] = [];
    if (entry.dtype === "F32") for (let p = start; p < end; p += 4) values.push(view.getFloat32(p, true));
    else if (entry.dtype === "I64")
      for (let p = start; p < end; p += 8) values.push(view.getBigInt64(p, true));
    else throw new Error(`reference reader: dtype ${entry.dtype} not handled`);
    tensors.set(name, { dtype: entry.dtype, shape: entry.shape, values });
  }
  return { metadata: header.__metadata__, tensors };
}

/** mulberry32: a tiny deterministic PRNG; returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
