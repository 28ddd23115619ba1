import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { AdaptlmError } from "../../src/errors.js";
import {
  type GgufArrayValue,
  GgufError,
  GgufValueType,
  ggufNumber,
  ggufString,
  ggufStringArray,
  ggufTokenizerMetadata,
  parseGguf,
  readGguf,
} from "../../src/io/gguf.js";

const VOCABS = "../shared/tokenizers/llama.cpp-vocab-gguf";

// A small GGUF writer for the tests: every value type, arrays (nested too), tensor infos.

type Value =
  | { type: number; value: number | bigint | boolean | string }
  | { type: typeof GgufValueType.ARRAY; elementType: number; values: Value[] };

class Writer {
  private readonly chunks: number[] = [];
  u8(v: number): void {
    this.chunks.push(v & 0xff);
  }
  bytes(b: Uint8Array): void {
    for (const x of b) this.chunks.push(x);
  }
  view(n: number, set: (dv: DataView) => void): void {
    const dv = new DataView(new ArrayBuffer(n));
    set(dv);
    this.bytes(new Uint8Array(dv.buffer));
  }
  u32(v: number): void {
    this.view(4, (dv) => dv.setUint32(0, v, true));
  }
  u64(v: number | bigint): void {
    this.view(8, (dv) => dv.setBigUint64(0, BigInt(v), true));
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  value(v: Value): void {
    if ("values" in v) {
      this.u32(v.elementType);
      this.u64(v.values.length);
      for (const item of v.values) this.value(item);
      return;
    }
    const x = v.value;
    switch (v.type) {
      case GgufValueType.UINT8:
      case GgufValueType.INT8:
        this.u8(Number(x));
        break;
      case GgufValueType.UINT16:
        this.view(2, (dv) => dv.setUint16(0, Number(x), true));
        break;
      case GgufValueType.INT16:
        this.view(2, (dv) => dv.setInt16(0, Number(x), true));
        break;
      case GgufValueType.UINT32:
        this.u32(Number(x));
        break;
      case GgufValueType.INT32:
        this.view(4, (dv) => dv.setInt32(0, Number(x), true));
        break;
      case GgufValueType.FLOAT32:
        this.view(4, (dv) => dv.setFloat32(0, Number(x), true));
        break;
      case GgufValueType.FLOAT64:
        this.view(8, (dv) => dv.setFloat64(0, Number(x), true));
        break;
      case GgufValueType.BOOL:
        this.u8(x ? 1 : 0);
        break;
      case GgufValueType.STRING:
        this.string(String(x));
        break;
      case GgufValueType.UINT64:
        this.u64(BigInt(x));
        break;
      case GgufValueType.INT64:
        this.view(8, (dv) => dv.setBigInt64(0, BigInt(x), true));
        break;
    }
  }
  get length(): number {
    return this.chunks.length;
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

interface TensorSpec {
  name: string;
  shape: number[];
  type: number;
  offset: number;
}

function writeGguf(
  kv: [string, Value][],
  tensors: TensorSpec[] = [],
  options: { version?: number; dataBytes?: number } = {},
): Uint8Array {
  const w = new Writer();
  w.bytes(new TextEncoder().encode("GGUF"));
  w.u32(options.version ?? 3);
  w.u64(tensors.length);
  w.u64(kv.length);
  for (const [key, value] of kv) {
    w.string(key);
    w.u32("values" in value ? GgufValueType.ARRAY : value.type);
    w.value(value);
  }
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.shape.length);
    for (const d of t.shape) w.u64(d);
    w.u32(t.type);
    w.u64(t.offset);
  }
  while (w.length % 32 !== 0) w.u8(0);
  for (let i = 0; i < (options.dataBytes ?? 0); i++) w.u8(i);
  return w.finish();
}

const str = (s: string): Value => ({ type: GgufValueType.STRING, value: s });
const arr = (elementType: number, values: Value[]): Value => ({
  type: GgufValueType.ARRAY,
  elementType,
  values,
});

function sampleFile(version = 3): Uint8Array {
  return writeGguf(
    [
      ["general.architecture", str("llama")],
      ["u8", { type: GgufValueType.UINT8, value: 200 }],
      ["i8", { type: GgufValueType.INT8, value: -5 }],
      ["u16", { type: GgufValueType.UINT16, value: 65000 }],
      ["i16", { type: GgufValueType.INT16, value: -30000 }],
      ["u32", { type: GgufValueType.UINT32, value: 4000000000 }],
      ["i32", { type: GgufValueType.INT32, value: -2000000000 }],
      ["f32", { type: GgufValueType.FLOAT32, value: 0.5 }],
      ["f64", { type: GgufValueType.FLOAT64, value: Math.PI }],
      ["bool", { type: GgufValueType.BOOL, value: true }],
      ["u64", { type: GgufValueType.UINT64, value: 2n ** 60n }],
      ["i64", { type: GgufValueType.INT64, value: -42n }],
      ["unicode", str("héllo ▁ 🦙")],
      ["strings", arr(GgufValueType.STRING, [str("a"), str(""), str("▁b")])],
      [
        "floats",
        arr(
          GgufValueType.FLOAT32,
          [1.5, -2, 3].map((v) => ({ type: GgufValueType.FLOAT32, value: v })),
        ),
      ],
      [
        "ints",
        arr(
          GgufValueType.INT32,
          [1, -2, 3].map((v) => ({ type: GgufValueType.INT32, value: v })),
        ),
      ],
      [
        "bools",
        arr(
          GgufValueType.BOOL,
          [true, false].map((v) => ({ type: GgufValueType.BOOL, value: v })),
        ),
      ],
      [
        "nested",
        arr(GgufValueType.ARRAY, [
          arr(GgufValueType.UINT8, [{ type: GgufValueType.UINT8, value: 7 }]),
          arr(GgufValueType.STRING, [str("x")]),
        ]),
      ],
    ],
    [
      { name: "token_embd.weight", shape: [64, 3], type: 0, offset: 0 },
      { name: "blk.0.ffn.weight", shape: [32, 2], type: 8, offset: 768 },
    ],
    { version, dataBytes: 768 + 68 },
  );
}

describe("GGUF reader", () => {
  for (const version of [2, 3]) {
    test(`reads every value type, nested arrays and tensor infos (version ${version})`, () => {
      const file = parseGguf(sampleFile(version));
      assert.equal(file.version, version);
      const value = (key: string) => file.metadata.get(key)?.value;
      assert.equal(value("u8"), 200);
      assert.equal(value("i8"), -5);
      assert.equal(value("u16"), 65000);
      assert.equal(value("i16"), -30000);
      assert.equal(value("u32"), 4000000000);
      assert.equal(value("i32"), -2000000000);
      assert.equal(value("f32"), 0.5);
      assert.equal(value("f64"), Math.PI);
      assert.equal(value("bool"), true);
      assert.equal(value("u64"), 2n ** 60n, "uint64 beyond 2^53 stays a bigint");
      assert.equal(value("i64"), -42);
      assert.equal(ggufString(file, "unicode"), "héllo ▁ 🦙");
      assert.deepEqual(ggufStringArray(file, "strings"), ["a", "", "▁b"]);
      assert.deepEqual(Array.from((value("floats") as GgufArrayValue).values as Float32Array), [1.5, -2, 3]);
      assert.deepEqual(Array.from((value("ints") as GgufArrayValue).values as Int32Array), [1, -2, 3]);
      assert.deepEqual((value("bools") as GgufArrayValue).values, [true, false]);
      const nested = (value("nested") as GgufArrayValue).values as GgufArrayValue[];
      assert.deepEqual(Array.from(nested[0].values as Uint8Array), [7]);
      assert.deepEqual(nested[1].values, ["x"]);
      assert.equal(file.tensors.length, 2);
      assert.deepEqual(file.tensors[0].shape, [64, 3]);
      assert.equal(file.tensors[0].typeName, "F32");
      assert.equal(file.tensors[0].byteSize, 64 * 3 * 4);
      assert.equal(file.tensors[1].typeName, "Q8_0");
      assert.equal(file.tensors[1].byteSize, 2 * 34);
      assert.equal(file.dataOffset % 32, 0);
      assert.equal(file.tensors[1].fileOffset, file.dataOffset + 768);
    });
  }

  test("reads llama.cpp's vocabulary files from disk", () => {
    const gpt2 = readGguf(join(VOCABS, "ggml-vocab-gpt-2.gguf"));
    assert.equal(gpt2.version, 3);
    assert.equal(gpt2.tensors.length, 0);
    assert.equal(ggufString(gpt2, "general.architecture"), "gpt2");
    const meta = ggufTokenizerMetadata(gpt2);
    assert.equal(meta.model, "gpt2");
    assert.equal(meta.pre, "gpt-2");
    assert.equal(meta.tokens.length, 50257);
    assert.equal(meta.tokens[15496], "Hello");
    assert.equal(meta.merges?.length, 50000);
    assert.equal(meta.merges?.[0], "Ġ t");
    assert.equal(meta.bosTokenId, 50256);

    const bert = ggufTokenizerMetadata(readGguf(join(VOCABS, "ggml-vocab-bert-bge.gguf")));
    assert.equal(bert.model, "bert");
    assert.equal(bert.tokens.length, 30522);
    assert.equal(bert.sepTokenId, 102);
    assert.equal(bert.clsTokenId, 101);
    assert.equal(bert.maskTokenId, 103);
    assert.equal(bert.padTokenId, 0);
    assert.equal(bert.unkTokenId, 100);
    assert.equal(bert.tokenTypes?.[101], 3);

    const spm = readGguf(join(VOCABS, "ggml-vocab-llama-spm.gguf"));
    assert.equal(ggufNumber(spm, "llama.vocab_size"), 32000);
    const spmMeta = ggufTokenizerMetadata(spm);
    assert.equal(spmMeta.model, "llama");
    assert.equal(spmMeta.scores?.length, 32000);
    assert.equal(spmMeta.tokens[3], "<0x00>");
    assert.equal(spmMeta.tokenTypes?.[3], 6);
    assert.equal(spmMeta.addBosToken, true);
    assert.equal(spmMeta.addEosToken, false);
  });

  test("rejects a bad magic, an unsupported version and a wrong-endian file", () => {
    const good = sampleFile();
    const badMagic = good.slice();
    badMagic[0] = 0x47 ^ 0xff;
    assert.throws(() => parseGguf(badMagic), { name: "GgufError", code: "GGUF_BAD_MAGIC" });
    assert.throws(() => parseGguf(new TextEncoder().encode("{}")), { code: "GGUF_BAD_MAGIC" });
    const v1 = good.slice();
    new DataView(v1.buffer).setUint32(4, 1, true);
    assert.throws(() => parseGguf(v1), { code: "GGUF_BAD_VERSION", message: /version 1/ });
    const bigEndian = good.slice();
    new DataView(bigEndian.buffer).setUint32(4, 3, false);
    assert.throws(() => parseGguf(bigEndian), { code: "GGUF_BAD_VERSION", message: /big-endian/ });
  });

  test("every truncation of a file gives a typed error", () => {
    const good = sampleFile();
    for (let length = 0; length < good.length; length++) {
      assert.throws(
        () => parseGguf(good.subarray(0, length)),
        (error: unknown) =>
          error instanceof GgufError && /GGUF_(TRUNCATED|BAD_MAGIC|BAD_COUNT)/.test(error.code),
        `truncated to ${length} bytes`,
      );
    }
  });

  test("absurd counts and lengths are rejected before anything is allocated", () => {
    const hugeString = writeGguf([["k", str("v")]]);
    // The key's uint64 length sits right after the 24-byte header.
    new DataView(hugeString.buffer).setBigUint64(24, 2n ** 62n, true);
    assert.throws(() => parseGguf(hugeString), { code: "GGUF_BAD_COUNT" });

    const hugeArray = writeGguf([["a", arr(GgufValueType.UINT32, [])]]);
    // header 24 + key (8 + 1) + value type 4 + element type 4 -> count at 41
    new DataView(hugeArray.buffer).setBigUint64(41, 2n ** 40n, true);
    assert.throws(() => parseGguf(hugeArray), { code: "GGUF_BAD_COUNT" });

    const hugeTensors = writeGguf([]);
    new DataView(hugeTensors.buffer).setBigUint64(8, 2n ** 63n, true);
    assert.throws(() => parseGguf(hugeTensors), { code: "GGUF_BAD_COUNT" });

    const badType = writeGguf([["k", str("v")]]);
    new DataView(badType.buffer).setUint32(24 + 9, 99, true);
    assert.throws(() => parseGguf(badType), { code: "GGUF_BAD_TYPE" });

    const deep: Value = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].reduce<Value>(
      (inner) => arr(GgufValueType.ARRAY, [inner]),
      arr(GgufValueType.UINT8, []),
    );
    assert.throws(() => parseGguf(writeGguf([["deep", deep]])), { code: "GGUF_BAD_TYPE" });

    const tensorPastEnd = writeGguf([], [{ name: "w", shape: [1024], type: 0, offset: 0 }], {
      dataBytes: 16,
    });
    assert.throws(() => parseGguf(tensorPastEnd), { code: "GGUF_TRUNCATED", message: /tensor "w"/ });

    const tooManyDims = writeGguf([], [{ name: "w", shape: [1, 1, 1, 1, 1], type: 0, offset: 0 }], {
      dataBytes: 4,
    });
    assert.throws(() => parseGguf(tooManyDims), { code: "GGUF_BAD_TENSOR" });
  });

  test("random corruption gives a result or a GgufError, never another exception", () => {
    const good = sampleFile();
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let trial = 0; trial < 500; trial++) {
      const bad = good.slice();
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) bad[Math.floor(random() * bad.length)] = Math.floor(random() * 256);
      try {
        parseGguf(bad);
      } catch (error) {
        assert.ok(error instanceof GgufError, `trial ${trial}: ${String(error)}`);
        assert.ok(error instanceof AdaptlmError);
      }
    }
  });

  test("readGguf reports a missing file and a truncated file on disk", () => {
    const dir = mkdtempSync(join(tmpdir(), "adaptlm-gguf-"));
    try {
      assert.throws(() => readGguf(join(dir, "missing.gguf")), { code: "GGUF_NOT_FOUND" });
      const path = join(dir, "cut.gguf");
      writeFileSync(path, sampleFile().subarray(0, 100));
      assert.throws(() => readGguf(path), { name: "GgufError", message: /cut\.gguf/ });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
