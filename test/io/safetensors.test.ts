import assert from "node:assert/strict";
import {
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { readHfConfig } from "../../src/io/hf-config.js";
import {
  openSafetensors,
  readSafetensors,
  SafetensorsError,
  type TensorToWrite,
  writeSafetensors,
} from "../../src/io/safetensors.js";
import { shapeSize } from "../../src/io/tensor-source.js";
import { buildSafetensorsBytes, leBytes, referenceRead } from "./safetensors-fixtures.js";
import { sharedPath } from "./shared-paths.js";
import { makeTempDir } from "./temp-dir.js";

const temp = makeTempDir("safetensors");
const goldenFiles = [
  ...["bert", "gpt2", "llama"].map((model) => sharedPath(`golden/models/${model}/model.safetensors`)),
  ...readdirSync(sharedPath("golden/cases"))
    .sort()
    .map((name) => sharedPath(`golden/cases/${name}/expected.safetensors`)),
];

/** Asserts that `fn` throws a SafetensorsError with `code` and returns it. */
function expectCode(fn: () => unknown, code: string): SafetensorsError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof SafetensorsError, `expected SafetensorsError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected SafetensorsError ${code}, nothing was thrown`);
}

function writeRaw(name: string, bytes: Uint8Array): string {
  const path = join(temp, name);
  writeFileSync(path, bytes);
  return path;
}

describe("safetensors: golden files", () => {
  test("every golden model and expected file reads exactly like a reference parser", () => {
    assert.ok(goldenFiles.length >= 20);
    for (const path of goldenFiles) {
      const reference = referenceRead(path);
      const file = openSafetensors(path);
      try {
        assert.deepEqual(file.names(), [...reference.tensors.keys()].sort(), path);
        assert.deepEqual({ ...file.metadata }, reference.metadata ?? {});
        for (const [name, expected] of reference.tensors) {
          const info = file.info(name);
          assert.equal(info.dtype, expected.dtype);
          assert.deepEqual(info.shape, expected.shape);
          const loaded = file.read(name);
          assert.equal(loaded.data.length, shapeSize(expected.shape));
          if (expected.dtype === "F32") {
            assert.ok(loaded.data instanceof Float32Array);
            assert.deepEqual(Array.from(loaded.data), expected.values, `${path} ${name}`);
          } else {
            assert.ok(loaded.data instanceof Int32Array);
            assert.deepEqual(Array.from(loaded.data, BigInt), expected.values, `${path} ${name}`);
          }
        }
      } finally {
        file.close();
      }
    }
  });

  test("golden model weights have the shapes their config.json implies", () => {
    const bert = readHfConfig(sharedPath("golden/models/bert"));
    const bertFile = openSafetensors(sharedPath("golden/models/bert/model.safetensors"));
    assert.deepEqual(bertFile.info("bert.embeddings.word_embeddings.weight").shape, [
      bert.vocabSize,
      bert.hiddenSize,
    ]);
    assert.deepEqual(bertFile.info("bert.encoder.layer.1.intermediate.dense.weight").shape, [
      bert.intermediateSize,
      bert.hiddenSize,
    ]);
    bertFile.close();
    const gpt2 = readHfConfig(sharedPath("golden/models/gpt2"));
    const gpt2File = openSafetensors(sharedPath("golden/models/gpt2/model.safetensors"));
    assert.deepEqual(gpt2File.info("transformer.h.0.attn.c_attn.weight").shape, [
      gpt2.hiddenSize,
      3 * gpt2.hiddenSize,
    ]);
    assert.ok(!gpt2File.has("lm_head.weight"), "tied head is not saved");
    gpt2File.close();
    const llama = readHfConfig(sharedPath("golden/models/llama"));
    const llamaFile = openSafetensors(sharedPath("golden/models/llama/model.safetensors"));
    assert.deepEqual(llamaFile.info("model.layers.0.self_attn.k_proj.weight").shape, [
      llama.numKvHeads * llama.headDim,
      llama.hiddenSize,
    ]);
    assert.deepEqual(llamaFile.info("lm_head.weight").shape, [llama.vocabSize, llama.hiddenSize]);
    llamaFile.close();
  });

  test("I64 generation outputs convert to int32: sequences = prompt + new tokens", () => {
    for (const model of ["gpt2", "llama"]) {
      const inputs = JSON.parse(
        readFileSync(sharedPath(`golden/cases/${model}_generate/inputs.json`), "utf8"),
      ) as {
        prompts: number[][];
        max_new_tokens: number;
      };
      const { tensors } = readSafetensors(sharedPath(`golden/cases/${model}_generate/expected.safetensors`));
      inputs.prompts.forEach((prompt, i) => {
        const sequence = tensors.get(`sequences.${i}`)!;
        const newTokens = tensors.get(`new_tokens.${i}`)!;
        assert.equal(sequence.dtype, "I64");
        assert.ok(sequence.data instanceof Int32Array);
        assert.deepEqual(Array.from(sequence.data), [...prompt, ...Array.from(newTokens.data)]);
        assert.equal(newTokens.data.length, inputs.max_new_tokens);
      });
    }
  });

  test("memory-light: a 4 GiB (sparse) file opens from its header and one small tensor is read alone", () => {
    const bigBytes = 2 ** 32;
    const header = buildSafetensorsBytes(
      {
        big: { dtype: "F32", shape: [2 ** 30], data_offsets: [0, bigBytes] },
        small: { dtype: "F32", shape: [4], data_offsets: [bigBytes, bigBytes + 16] },
      },
      new Uint8Array(),
    );
    const path = join(temp, "sparse.safetensors");
    writeFileSync(path, header);
    truncateSync(path, header.length + bigBytes + 16); // a hole: no disk space, reads back as zeros
    const fd = openSync(path, "r+");
    writeSync(fd, leBytes("f32", [1.5, -2, 3, 4.25]), 0, 16, header.length + bigBytes);
    closeSync(fd);
    const before = process.memoryUsage().rss;
    const file = openSafetensors(path);
    try {
      assert.deepEqual(file.info("big"), { dtype: "F32", shape: [2 ** 30], byteLength: bigBytes });
      assert.deepEqual(Array.from(file.readFloat32("small")), [1.5, -2, 3, 4.25]);
    } finally {
      file.close();
    }
    const grownMiB = (process.memoryUsage().rss - before) / 2 ** 20;
    assert.ok(grownMiB < 64, `resident memory grew by ${grownMiB.toFixed(0)} MiB`);
    rmSync(path);
  });

  test("scalar losses have shape [] and one element", () => {
    const { tensors } = readSafetensors(sharedPath("golden/cases/bert_seqcls_full/expected.safetensors"));
    const loss = tensors.get("loss")!;
    assert.deepEqual(loss.shape, []);
    assert.equal(loss.data.length, 1);
    assert.ok(Number.isFinite(loss.data[0]) && loss.data[0] > 0);
  });

  test("tiny GPT-2 saved by Hugging Face itself opens", () => {
    const file = openSafetensors(sharedPath("models/tiny-gpt2-hf-random/model.safetensors"));
    try {
      assert.equal(file.names().length, 16);
      assert.deepEqual({ ...file.metadata }, { format: "pt" });
      assert.deepEqual(file.info("h.0.attn.c_attn.weight"), { dtype: "F32", shape: [2, 6], byteLength: 48 });
      assert.deepEqual(file.info("wte.weight").shape, [21, 2]);
      const reference = referenceRead(sharedPath("models/tiny-gpt2-hf-random/model.safetensors"));
      for (const name of file.names()) {
        assert.deepEqual(Array.from(file.readFloat32(name)), reference.tensors.get(name)!.values);
      }
    } finally {
      file.close();
    }
  });
});

describe("safetensors: writing", () => {
  test("re-writing a golden file reproduces it byte for byte", () => {
    for (const path of [
      sharedPath("golden/models/gpt2/model.safetensors"),
      sharedPath("golden/cases/llama_generate/expected.safetensors"),
      sharedPath("golden/cases/bert_seqcls_lora/expected.safetensors"),
    ]) {
      const { tensors, metadata } = readSafetensors(path);
      const toWrite = new Map<string, TensorToWrite>();
      for (const [name, tensor] of tensors) {
        toWrite.set(name, {
          shape: tensor.shape,
          data: tensor.data,
          dtype: tensor.dtype === "I64" ? "I64" : "F32",
        });
      }
      const out = join(temp, "rewrite.safetensors");
      writeSafetensors(out, toWrite, metadata);
      assert.ok(Buffer.compare(readFileSync(out), readFileSync(path)) === 0, `${path} differs after rewrite`);
    }
  });

  test("round trip of every writable dtype; layout sorted, header 8-aligned and space padded", () => {
    const values = [0, 1, -2.5, 3.140625, 65504, -1e-3, 0.1];
    const path = join(temp, "dtypes.safetensors");
    writeSafetensors(
      path,
      {
        "z.f32": { shape: [7], data: Float32Array.from(values) },
        "a.f16": { shape: [7], data: Float32Array.from(values), dtype: "F16" },
        "m.bf16": { shape: [7, 1], data: Float32Array.from(values), dtype: "BF16" },
        "b.f64": { shape: [7], data: Float64Array.from(values) },
        "c.i32": { shape: [2, 2], data: Int32Array.from([1, -2, 2147483647, -2147483648]) },
        "d.i64": { shape: [3], data: BigInt64Array.from([5n, -7n, 2147483647n]) },
        "e.ids": { shape: [2], data: Int32Array.from([42, -1]), dtype: "I64" },
        scalar: { shape: [], data: Float32Array.from([0.5]) },
        empty: { shape: [0, 4], data: new Float32Array(0) },
      },
      { format: "pt", note: "ünïcode" },
    );
    const bytes = readFileSync(path);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + headerLength) % 8, 0);
    const headerText = bytes.subarray(8, 8 + headerLength).toString("utf8");
    assert.match(headerText, /^\{"__metadata__":\{"format":"pt","note":"ünïcode"\}/);
    assert.match(headerText, /\}\s*$/);
    assert.ok(/^ *$/.test(headerText.slice(headerText.lastIndexOf("}") + 1)));
    const header = JSON.parse(headerText) as Record<string, { data_offsets: [number, number] }>;
    const names = Object.keys(header).filter((name) => name !== "__metadata__");
    const byOffset = [...names].sort((a, b) => header[a].data_offsets[0] - header[b].data_offsets[0]);
    assert.deepEqual(byOffset, [...names].sort(), "data laid out in sorted name order");

    const file = openSafetensors(path);
    try {
      assert.deepEqual({ ...file.metadata }, { format: "pt", note: "ünïcode" });
      assert.deepEqual(Array.from(file.readFloat32("z.f32")), Array.from(Float32Array.from(values)));
      assert.deepEqual(Array.from(file.readFloat32("b.f64")), Array.from(Float32Array.from(values)));
      // F16: exactly representable values survive; 0.1 and -1e-3 round to the nearest binary16.
      assert.deepEqual(
        Array.from(file.readFloat32("a.f16")),
        [0, 1, -2.5, 3.140625, 65504, -0.0010004043579101562, 0.0999755859375],
      );
      // BF16: 8 significant bits; 65504 -> 65536, 3.140625 exact, 0.1 -> 0.10009765625.
      assert.deepEqual(
        Array.from(file.readFloat32("m.bf16")),
        [0, 1, -2.5, 3.140625, 65536, -0.00099945068359375, 0.10009765625],
      );
      assert.deepEqual(file.info("m.bf16"), { dtype: "BF16", shape: [7, 1], byteLength: 14 });
      assert.deepEqual(Array.from(file.readInt32("c.i32")), [1, -2, 2147483647, -2147483648]);
      assert.deepEqual(Array.from(file.readInt32("d.i64")), [5, -7, 2147483647]);
      assert.equal(file.info("e.ids").dtype, "I64");
      assert.deepEqual(Array.from(file.readInt32("e.ids")), [42, -1]);
      assert.deepEqual(file.read("scalar").shape, []);
      assert.deepEqual(Array.from(file.readFloat32("scalar")), [0.5]);
      assert.equal(file.readFloat32("empty").length, 0);
    } finally {
      file.close();
    }
  });

  test("tensors larger than one conversion chunk (2^20 elements) convert correctly across chunk borders", () => {
    const count = (1 << 20) * 2 + 3;
    const path = join(temp, "large.safetensors");
    // Integers are exact in every format used: F16 up to 2048, BF16 up to 256.
    writeSafetensors(path, {
      f16: {
        shape: [count],
        data: Float32Array.from({ length: count }, (_, i) => (i % 4096) - 2048),
        dtype: "F16",
      },
      bf16: {
        shape: [count],
        data: Float32Array.from({ length: count }, (_, i) => (i % 512) - 256),
        dtype: "BF16",
      },
      i64: {
        shape: [count],
        data: Int32Array.from({ length: count }, (_, i) => i - (1 << 20)),
        dtype: "I64",
      },
    });
    const file = openSafetensors(path);
    try {
      const f16 = file.readFloat32("f16");
      const bf16 = file.readFloat32("bf16");
      const i64 = file.readInt32("i64");
      for (let i = 0; i < count; i++) {
        if (f16[i] !== (i % 4096) - 2048 || bf16[i] !== (i % 512) - 256 || i64[i] !== i - (1 << 20)) {
          assert.fail(`element ${i}: ${f16[i]} ${bf16[i]} ${i64[i]}`);
        }
      }
    } finally {
      file.close();
    }
  });

  test("writer rejects inconsistent input with typed errors", () => {
    const path = join(temp, "bad-input.safetensors");
    expectCode(
      () => writeSafetensors(path, { a: { shape: [2, 2], data: new Float32Array(3) } }),
      "SAFETENSORS_BAD_INPUT",
    );
    expectCode(
      () => writeSafetensors(path, { a: { shape: [-1], data: new Float32Array(0) } }),
      "SAFETENSORS_BAD_INPUT",
    );
    expectCode(
      () => writeSafetensors(path, { a: { shape: [1], data: new Float32Array(1), dtype: "I64" } }),
      "SAFETENSORS_BAD_INPUT",
    );
    expectCode(
      () =>
        writeSafetensors(path, { a: { shape: [1], data: BigInt64Array.from([1n << 40n]), dtype: "I32" } }),
      "SAFETENSORS_BAD_INPUT",
    );
    expectCode(
      () => writeSafetensors(path, { __metadata__: { shape: [1], data: new Float32Array(1) } }),
      "SAFETENSORS_BAD_INPUT",
    );
    assert.deepEqual(
      readdirSync(temp).filter((name) => name.includes("bad-input")),
      [],
      "nothing (not even a temporary file) is left behind",
    );
  });
});

describe("safetensors: 16-bit float decoding against known bit patterns", () => {
  test("F16", () => {
    const cases: [number, number][] = [
      [0x0000, 0],
      [0x8000, -0],
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504],
      [0x0400, 2 ** -14],
      [0x0001, 2 ** -24],
      [0x03ff, 1023 * 2 ** -24],
      [0x7c00, Number.POSITIVE_INFINITY],
      [0xfc00, Number.NEGATIVE_INFINITY],
    ];
    const path = writeRaw(
      "f16.safetensors",
      buildSafetensorsBytes(
        { x: { dtype: "F16", shape: [cases.length + 1], data_offsets: [0, 2 * (cases.length + 1)] } },
        leBytes("u16", [...cases.map(([bits]) => bits), 0x7e00]),
      ),
    );
    const values = readSafetensors(path).tensors.get("x")!.data;
    for (const [i, [bits, expected]] of cases.entries()) {
      assert.ok(Object.is(values[i], expected), `0x${bits.toString(16)}`);
    }
    assert.ok(Number.isNaN(values[cases.length]));
  });

  test("BF16", () => {
    const cases: [number, number][] = [
      [0x0000, 0],
      [0x8000, -0],
      [0x3f80, 1],
      [0x4049, 3.140625],
      [0xc2f7, -123.5],
      [0x7f7f, 3.3895313892515355e38],
      [0x0080, 2 ** -126],
      [0x0001, 2 ** -133],
      [0x7f80, Number.POSITIVE_INFINITY],
      [0xff80, Number.NEGATIVE_INFINITY],
    ];
    const path = writeRaw(
      "bf16.safetensors",
      buildSafetensorsBytes(
        { x: { dtype: "BF16", shape: [cases.length + 1], data_offsets: [0, 2 * (cases.length + 1)] } },
        leBytes("u16", [...cases.map(([bits]) => bits), 0x7fc0]),
      ),
    );
    const values = readSafetensors(path).tensors.get("x")!.data;
    for (const [i, [bits, expected]] of cases.entries()) {
      assert.ok(Object.is(values[i], expected), `0x${bits.toString(16)}`);
    }
    assert.ok(Number.isNaN(values[cases.length]));
  });

  test("F64 and small integer dtypes", () => {
    const data = new Uint8Array([...leBytes("f64", [1.5, -1e-300]), ...[0, 1, 255], ...[0x80, 0x7f]]);
    const path = writeRaw(
      "misc.safetensors",
      buildSafetensorsBytes(
        {
          f: { dtype: "F64", shape: [2], data_offsets: [0, 16] },
          u: { dtype: "U8", shape: [3], data_offsets: [16, 19] },
          i: { dtype: "I8", shape: [2], data_offsets: [19, 21] },
        },
        data,
      ),
    );
    const { tensors } = readSafetensors(path);
    assert.deepEqual(Array.from(tensors.get("f")!.data), [1.5, -0]);
    assert.deepEqual(Array.from(tensors.get("u")!.data), [0, 1, 255]);
    assert.deepEqual(Array.from(tensors.get("i")!.data), [-128, 127]);
  });
});

describe("safetensors: malformed files give typed, actionable errors", () => {
  const valid = (): Uint8Array =>
    buildSafetensorsBytes({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, leBytes("f32", [1, 2]));

  test("missing file", () => {
    const error = expectCode(() => openSafetensors(join(temp, "nope.safetensors")), "SAFETENSORS_IO");
    assert.match(error.message, /nope\.safetensors/);
  });

  test("shorter than 8 bytes", () => {
    expectCode(
      () => openSafetensors(writeRaw("short.safetensors", new Uint8Array([1, 2, 3]))),
      "SAFETENSORS_TOO_SHORT",
    );
  });

  test("header length beyond the file", () => {
    const bytes = valid();
    new DataView(bytes.buffer).setBigUint64(0, 9_000_000_000n, true);
    const error = expectCode(
      () => openSafetensors(writeRaw("model.safetensors", bytes)),
      "SAFETENSORS_HEADER_TRUNCATED",
    );
    assert.match(
      error.message,
      /header of model\.safetensors claims 9\.0 GB but the file is \d+ bytes: file is truncated or not safetensors/,
    );
    const huge = valid();
    new DataView(huge.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
    expectCode(() => openSafetensors(writeRaw("huge.safetensors", huge)), "SAFETENSORS_HEADER_TRUNCATED");
  });

  test("non-JSON, non-UTF-8 and non-object headers", () => {
    expectCode(
      () => openSafetensors(writeRaw("t.safetensors", buildSafetensorsBytes("{nope", new Uint8Array()))),
      "SAFETENSORS_HEADER_NOT_JSON",
    );
    const badUtf8 = buildSafetensorsBytes('{"a":1}', new Uint8Array());
    badUtf8[9] = 0xff;
    expectCode(() => openSafetensors(writeRaw("t.safetensors", badUtf8)), "SAFETENSORS_HEADER_NOT_JSON");
    for (const header of ["[]", "null", "42", '"x"']) {
      expectCode(
        () => openSafetensors(writeRaw("t.safetensors", buildSafetensorsBytes(header, new Uint8Array()))),
        "SAFETENSORS_HEADER_NOT_OBJECT",
      );
    }
  });

  test("entry defects", () => {
    const cases: [unknown, string][] = [
      [{ a: 5 }, "SAFETENSORS_BAD_ENTRY"],
      [{ a: { shape: [2], data_offsets: [0, 8] } }, "SAFETENSORS_BAD_ENTRY"],
      [{ a: { dtype: "F33", shape: [2], data_offsets: [0, 8] } }, "SAFETENSORS_UNKNOWN_DTYPE"],
      [{ a: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, "SAFETENSORS_BAD_SHAPE"],
      [{ a: { dtype: "F32", shape: [2.5], data_offsets: [0, 8] } }, "SAFETENSORS_BAD_SHAPE"],
      [{ a: { dtype: "F32", shape: "2", data_offsets: [0, 8] } }, "SAFETENSORS_BAD_SHAPE"],
      [{ a: { dtype: "F32", shape: [1e300, 1e300], data_offsets: [0, 8] } }, "SAFETENSORS_BAD_SHAPE"],
      [{ a: { dtype: "F32", shape: [2], data_offsets: [0] } }, "SAFETENSORS_BAD_OFFSETS"],
      [{ a: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, "SAFETENSORS_BAD_OFFSETS"],
      [{ a: { dtype: "F32", shape: [2], data_offsets: [0, 16] } }, "SAFETENSORS_BAD_OFFSETS"],
      [{ a: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, "SAFETENSORS_SIZE_MISMATCH"],
      [{ a: { dtype: "F32", shape: [4096, 4096, 4096], data_offsets: [0, 8] } }, "SAFETENSORS_SIZE_MISMATCH"],
      [
        {
          a: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
          b: { dtype: "F32", shape: [1], data_offsets: [2, 6] },
        },
        "SAFETENSORS_OVERLAP",
      ],
      [{ __metadata__: { format: 1 } }, "SAFETENSORS_BAD_METADATA"],
      [{ __metadata__: [] }, "SAFETENSORS_BAD_METADATA"],
    ];
    for (const [header, code] of cases) {
      const error = expectCode(
        () =>
          openSafetensors(
            writeRaw("entry.safetensors", buildSafetensorsBytes(header, leBytes("f32", [1, 2]))),
          ),
        code,
      );
      assert.match(error.message, /entry\.safetensors/);
    }
  });

  test("lookups: unknown name, wrong kind, int64 out of int32 range, closed file", () => {
    const path = writeRaw(
      "kinds.safetensors",
      buildSafetensorsBytes(
        {
          ids: { dtype: "I64", shape: [2], data_offsets: [0, 16] },
          w: { dtype: "F32", shape: [1], data_offsets: [16, 20] },
          q: { dtype: "F8_E4M3", shape: [1], data_offsets: [20, 21] },
        },
        new Uint8Array([...leBytes("i64", [1, 1n << 33n]), ...leBytes("f32", [1]), 0]),
      ),
    );
    const file = openSafetensors(path);
    expectCode(() => file.read("missing"), "SAFETENSORS_NOT_FOUND");
    expectCode(() => file.readFloat32("ids"), "SAFETENSORS_WRONG_KIND");
    expectCode(() => file.readInt32("w"), "SAFETENSORS_WRONG_KIND");
    const range = expectCode(() => file.readInt32("ids"), "SAFETENSORS_INT_RANGE");
    assert.match(range.message, /8589934592 at element 1/);
    expectCode(() => file.read("q"), "SAFETENSORS_UNSUPPORTED_DTYPE");
    assert.deepEqual(Array.from(file.readBytes("q")), [0]);
    file.close();
    file.close();
    expectCode(() => file.read("w"), "SAFETENSORS_CLOSED");
  });

  test("a file truncated after opening fails on read, not with garbage", () => {
    const path = writeRaw("shrinks.safetensors", valid());
    const file = openSafetensors(path);
    truncateSync(path, 8 + 8 + 4 + 2);
    try {
      expectCode(() => file.readFloat32("a"), "SAFETENSORS_DATA_TRUNCATED");
    } finally {
      file.close();
    }
  });
});
