import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { SafetensorsError, type TensorToWrite, writeSafetensors } from "../../src/io/safetensors.js";
import {
  openCheckpoint,
  openSafetensorsIndex,
  SAFETENSORS_INDEX_NAME,
  ShardedSafetensors,
  writeCheckpoint,
} from "../../src/io/safetensors-index.js";
import { sharedPath } from "./shared-paths.js";
import { makeTempDir } from "./temp-dir.js";

const temp = makeTempDir("sharded");

function expectCode(fn: () => unknown, code: string): SafetensorsError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof SafetensorsError, `expected SafetensorsError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

/** A two-shard checkpoint folder as save_pretrained lays it out; returns its path. */
function makeShardedFolder(name: string, weightMap?: Record<string, string>): string {
  const dir = join(temp, name);
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, "model-00001-of-00002.safetensors"), {
    "model.embed_tokens.weight": { shape: [3, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    "model.layers.0.self_attn.q_proj.weight": {
      shape: [2, 2],
      data: Float32Array.from([7, 8, 9, 10]),
      dtype: "BF16",
    },
  });
  writeSafetensors(join(dir, "model-00002-of-00002.safetensors"), {
    "model.norm.weight": { shape: [2], data: Float32Array.from([0.5, 0.25]), dtype: "F16" },
    "lm_head.weight": { shape: [3, 2], data: Float32Array.from([-1, -2, -3, -4, -5, -6]) },
  });
  const index = {
    metadata: { total_size: 24 + 8 + 4 + 24 },
    weight_map: weightMap ?? {
      "lm_head.weight": "model-00002-of-00002.safetensors",
      "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
      "model.layers.0.self_attn.q_proj.weight": "model-00001-of-00002.safetensors",
      "model.norm.weight": "model-00002-of-00002.safetensors",
    },
  };
  writeFileSync(join(dir, SAFETENSORS_INDEX_NAME), JSON.stringify(index, null, 2));
  return dir;
}

describe("sharded safetensors", () => {
  test("one name space over the shards, read on demand", () => {
    const source = openCheckpoint(makeShardedFolder("ok"));
    assert.ok(source instanceof ShardedSafetensors);
    try {
      assert.deepEqual(source.names(), [
        "lm_head.weight",
        "model.embed_tokens.weight",
        "model.layers.0.self_attn.q_proj.weight",
        "model.norm.weight",
      ]);
      assert.equal(source.shardOf("model.norm.weight"), "model-00002-of-00002.safetensors");
      assert.deepEqual(source.info("model.layers.0.self_attn.q_proj.weight"), {
        dtype: "BF16",
        shape: [2, 2],
        byteLength: 8,
      });
      assert.deepEqual(
        Array.from(source.readFloat32("model.layers.0.self_attn.q_proj.weight")),
        [7, 8, 9, 10],
      );
      assert.deepEqual(Array.from(source.read("model.norm.weight").data), [0.5, 0.25]);
      assert.deepEqual(Array.from(source.readFloat32("lm_head.weight")), [-1, -2, -3, -4, -5, -6]);
      assert.equal(source.metadata.total_size, 60);
      expectCode(() => source.read("model.layers.1.mlp.up_proj.weight"), "SAFETENSORS_NOT_FOUND");
    } finally {
      source.close();
    }
    expectCode(() => source.read("lm_head.weight"), "SAFETENSORS_CLOSED");
  });

  test("the index file path works too; a single-file folder opens model.safetensors", () => {
    const sharded = openCheckpoint(join(makeShardedFolder("by-path"), SAFETENSORS_INDEX_NAME));
    assert.equal(sharded.names().length, 4);
    sharded.close();
    const single = openCheckpoint(sharedPath("golden/models/llama"));
    assert.ok(single.has("model.embed_tokens.weight"));
    single.close();
  });

  test("index naming a tensor its shard lacks", () => {
    const dir = makeShardedFolder("missing-tensor", {
      "lm_head.weight": "model-00001-of-00002.safetensors",
    });
    const error = expectCode(
      () => openSafetensorsIndex(join(dir, SAFETENSORS_INDEX_NAME)),
      "SAFETENSORS_BAD_INDEX",
    );
    assert.match(error.message, /lm_head\.weight.*model-00001-of-00002/);
  });

  test("missing shard file, unsafe shard names, malformed index", () => {
    const missing = makeShardedFolder("missing-shard", { a: "model-00003-of-00003.safetensors" });
    expectCode(() => openCheckpoint(missing), "SAFETENSORS_IO");
    for (const shard of ["../escape.safetensors", "/etc/passwd", "", 7]) {
      const dir = makeShardedFolder(`unsafe-${String(shard).replace(/\W/g, "_")}`, { a: shard as string });
      expectCode(() => openCheckpoint(dir), "SAFETENSORS_BAD_INDEX");
    }
    const dir = join(temp, "bad-json");
    mkdirSync(dir);
    writeFileSync(join(dir, SAFETENSORS_INDEX_NAME), "{ not json");
    expectCode(() => openCheckpoint(dir), "SAFETENSORS_BAD_INDEX");
    writeFileSync(join(dir, SAFETENSORS_INDEX_NAME), JSON.stringify({ metadata: {} }));
    expectCode(() => openCheckpoint(dir), "SAFETENSORS_BAD_INDEX");
  });

  test("a folder without safetensors weights says what it found", () => {
    const dir = join(temp, "torch-only");
    mkdirSync(dir);
    writeFileSync(join(dir, "pytorch_model.bin"), "x");
    const error = expectCode(() => openCheckpoint(dir), "SAFETENSORS_IO");
    assert.match(error.message, /pytorch_model\.bin.*convert them to safetensors/);
  });
});

describe("writing checkpoints like save_pretrained", () => {
  const weights = (): Map<string, TensorToWrite> =>
    new Map<string, TensorToWrite>([
      ["b.weight", { shape: [4, 4], data: Float32Array.from({ length: 16 }, (_, i) => i) }],
      ["a.weight", { shape: [4, 4], data: Float32Array.from({ length: 16 }, (_, i) => -i) }],
      ["c.bias", { shape: [4], data: Float32Array.from([1, 2, 3, 4]), dtype: "BF16" }],
      ["d.huge", { shape: [40], data: new Float32Array(40) }],
    ]);

  test("sharded: greedy shards in name order, an index with total_size, reads back through openCheckpoint", () => {
    const dir = join(temp, "save-sharded");
    mkdirSync(dir);
    const { files, indexFile } = writeCheckpoint(dir, weights(), { maxShardBytes: 100 });
    // a (64) | b (64) | c (8) fits with b? 64 + 8 = 72 <= 100 | d (160) alone, larger than the limit.
    assert.deepEqual(files, [
      "model-00001-of-00003.safetensors",
      "model-00002-of-00003.safetensors",
      "model-00003-of-00003.safetensors",
    ]);
    assert.equal(indexFile, SAFETENSORS_INDEX_NAME);
    const index = JSON.parse(readFileSync(join(dir, SAFETENSORS_INDEX_NAME), "utf8"));
    assert.deepEqual(index, {
      metadata: { total_size: 64 + 64 + 8 + 160 },
      weight_map: {
        "a.weight": "model-00001-of-00003.safetensors",
        "b.weight": "model-00002-of-00003.safetensors",
        "c.bias": "model-00002-of-00003.safetensors",
        "d.huge": "model-00003-of-00003.safetensors",
      },
    });
    const source = openCheckpoint(dir);
    try {
      assert.deepEqual(
        Array.from(source.readFloat32("b.weight")),
        Array.from({ length: 16 }, (_, i) => i),
      );
      assert.deepEqual(Array.from(source.readFloat32("c.bias")), [1, 2, 3, 4]);
      assert.equal(source.info("c.bias").dtype, "BF16");
    } finally {
      source.close();
    }
  });

  test("a later single-file save removes the stale index and shards (and vice versa)", () => {
    const dir = join(temp, "save-relayout");
    mkdirSync(dir);
    writeCheckpoint(dir, weights(), { maxShardBytes: 100 });
    const single = writeCheckpoint(dir, weights());
    assert.deepEqual(single, { files: ["model.safetensors"], indexFile: null });
    assert.deepEqual(readdirSync(dir), ["model.safetensors"]);
    const source = openCheckpoint(dir);
    assert.ok(!(source instanceof ShardedSafetensors));
    assert.deepEqual({ ...(source as { metadata: Record<string, string> }).metadata }, { format: "pt" });
    source.close();
    writeCheckpoint(dir, weights(), { maxShardBytes: 150 });
    assert.deepEqual(readdirSync(dir).sort(), [
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
      SAFETENSORS_INDEX_NAME,
    ]);
  });
});
