// readFloat32Into: loaders fill parameters in place; the values must be exactly what readFloat32 returns, for
// every float dtype, through a sharded index and from a llama2.c checkpoint, and a wrongly sized destination
// is a typed error.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AdaptlmError } from "../../src/errors.js";
import { openLlama2c } from "../../src/io/llama2c.js";
import { openSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { openCheckpoint, writeCheckpoint } from "../../src/io/safetensors-index.js";
import type { TensorSource } from "../../src/io/tensor-source.js";
import { sharedPath } from "./shared-paths.js";
import { makeTempDir } from "./temp-dir.js";

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin(seed + i * 0.37) * (1 + i);
  return out;
}

function assertSameReads(source: TensorSource, label: string): number {
  let checked = 0;
  for (const name of source.names()) {
    const expected = source.readFloat32(name);
    // A destination that is a view into a larger buffer, as a pooled parameter may be.
    const backing = new Float32Array(expected.length + 3).fill(Number.NaN);
    const out = backing.subarray(2, 2 + expected.length);
    source.readFloat32Into(name, out);
    assert.deepEqual(out, expected, `${label}: ${name}`);
    assert.ok(Number.isNaN(backing[0]) && Number.isNaN(backing[1]) && Number.isNaN(backing.at(-1) as number));
    assert.throws(
      () => source.readFloat32Into(name, new Float32Array(expected.length + 1)),
      (e: unknown) => e instanceof AdaptlmError && /elements/.test(e.message),
    );
    checked++;
  }
  return checked;
}

test("readFloat32Into equals readFloat32 for F32, F16, BF16 and F64, single file and sharded", () => {
  const dir = makeTempDir("read-into");
  const tensors = new Map([
    ["a.f32", { shape: [3, 5], data: values(15, 1) }],
    ["b.f16", { shape: [7], data: values(7, 2), dtype: "F16" as const }],
    ["c.bf16", { shape: [2, 2, 3], data: values(12, 3), dtype: "BF16" as const }],
    ["d.f64", { shape: [4], data: Float64Array.from(values(4, 4)), dtype: "F64" as const }],
  ]);
  writeSafetensors(join(dir, "all.safetensors"), tensors);
  const single = openSafetensors(join(dir, "all.safetensors"));
  assert.equal(assertSameReads(single, "single"), 4);
  single.close();
  const sharded = join(dir, "sharded");
  mkdirSync(sharded, { recursive: true });
  const written = writeCheckpoint(sharded, tensors, { maxShardBytes: 40 });
  assert.ok(written.files.length >= 3, "the checkpoint is sharded");
  const source = openCheckpoint(sharded);
  assert.equal(assertSameReads(source, "sharded"), 4);
  source.close();
});

test("readFloat32Into equals readFloat32 for a llama2.c checkpoint (RoPE rows permuted)", () => {
  const checkpoint = openLlama2c(sharedPath("models/stories260K/stories260K.bin"));
  assert.ok(assertSameReads(checkpoint, "stories260K") > 10);
  checkpoint.close();
});
