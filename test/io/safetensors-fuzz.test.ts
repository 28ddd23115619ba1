// Fuzz-style robustness test: hundreds of corrupted variants of one valid safetensors file (every
// truncation, random byte flips in header and data, random header JSON mutations, random length prefixes),
// generated with a seeded RNG. Every open/read must either succeed with self-consistent data or throw a
// SafetensorsError; any other exception type fails the test. A test-level timeout guards against hangs.

import assert from "node:assert/strict";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { openSafetensors, SafetensorsError } from "../../src/io/safetensors.js";
import { DTYPE_BYTES } from "../../src/io/safetensors-header.js";
import { shapeSize } from "../../src/io/tensor-source.js";
import { buildSafetensorsBytes, leBytes, seededRandom } from "./safetensors-fixtures.js";
import { makeTempDir } from "./temp-dir.js";

const temp = makeTempDir("fuzz");
const path = join(temp, "fuzz.safetensors");
const random = seededRandom(20241128);
const randomInt = (n: number): number => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[randomInt(items.length)];

/** The valid starting point: several dtypes, a scalar and an empty tensor. */
function baseFile(): { header: Record<string, unknown>; data: Uint8Array } {
  const parts: [string, string, number[], Uint8Array][] = [
    ["bias", "F32", [3], leBytes("f32", [0.5, -1, 2])],
    ["emb", "F16", [2, 3], leBytes("u16", [0x3c00, 0xc000, 0x3555, 0x7bff, 0x0001, 0x8000])],
    ["ids", "I64", [4], leBytes("i64", [0, 7, -3, 2147483647])],
    ["loss", "F32", [], leBytes("f32", [0.25])],
    ["mask", "U8", [5], new Uint8Array([1, 1, 0, 1, 0])],
    ["none", "F32", [0, 3], new Uint8Array()],
    ["pos", "I32", [2], leBytes("i32", [1, -1])],
    ["w", "BF16", [2, 2], leBytes("u16", [0x3f80, 0x4049, 0xc2f7, 0x0080])],
    ["wide", "F64", [2], leBytes("f64", [1e-300, -2.5])],
  ];
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, dtype, shape, bytes] of parts) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  const data = new Uint8Array(offset);
  let at = 0;
  for (const chunk of chunks) {
    data.set(chunk, at);
    at += chunk.length;
  }
  return { header, data };
}

type Outcome = "accepted" | "rejected";

/** Opens and reads everything; asserts the typed-error contract and data consistency. */
function exercise(bytes: Uint8Array): Outcome {
  writeFileSync(path, bytes);
  const fileSize = statSync(path).size;
  let file: ReturnType<typeof openSafetensors>;
  try {
    file = openSafetensors(path);
  } catch (error) {
    assert.ok(error instanceof SafetensorsError, `open threw ${String(error)}`);
    assert.ok(error.message.length > 0 && error.code.startsWith("SAFETENSORS_"));
    return "rejected";
  }
  try {
    for (const name of file.names()) {
      const info = file.info(name);
      assert.equal(info.byteLength, shapeSize(info.shape) * DTYPE_BYTES[info.dtype]);
      const [begin, end] = file.fileRange(name);
      assert.ok(begin >= file.dataStart && end <= fileSize && end - begin === info.byteLength);
      try {
        const tensor = file.read(name);
        assert.equal(tensor.data.length, shapeSize(info.shape));
        assert.deepEqual(tensor.shape, info.shape);
      } catch (error) {
        assert.ok(error instanceof SafetensorsError, `read threw ${String(error)}`);
        assert.ok(
          ["SAFETENSORS_INT_RANGE", "SAFETENSORS_UNSUPPORTED_DTYPE"].includes(error.code),
          `valid header but read failed with ${error.code}: ${error.message}`,
        );
      }
    }
  } finally {
    file.close();
  }
  return "accepted";
}

/** A random replacement value for a header field. */
function randomValue(): unknown {
  return pick<() => unknown>([
    () => null,
    () => -1,
    () => 1.5,
    () => 2 ** 53,
    () => 2 ** 64,
    () => 1e308,
    () => randomInt(64),
    () => "F32",
    () => pick(["F16", "BF16", "I64", "U8", "F8_E4M3", "Q4_0", "f32", "", "F32 "]),
    () => [],
    () => [randomInt(8)],
    () => [randomInt(8), randomInt(8)],
    () => [randomInt(40), randomInt(40), randomInt(3)],
    () => [2 ** 40, 2 ** 40],
    () => [-1, 4],
    () => [[1, 2]],
    () => ({}),
    () => ({ dtype: "F32" }),
    () => "x".repeat(randomInt(50)),
  ])();
}

/** One random structural mutation of the header object (returns a new object). */
function mutateHeader(original: Record<string, unknown>): Record<string, unknown> {
  const header = structuredClone(original) as Record<string, Record<string, unknown>>;
  const names = Object.keys(header);
  const name = pick(names);
  const entry = header[name];
  switch (randomInt(7)) {
    case 0: // replace a field of an entry
      if (typeof entry === "object" && entry !== null)
        entry[pick(["dtype", "shape", "data_offsets"])] = randomValue();
      break;
    case 1: // delete a field
      if (typeof entry === "object" && entry !== null) delete entry[pick(["dtype", "shape", "data_offsets"])];
      break;
    case 2: // replace a whole entry
      (header as Record<string, unknown>)[name] = randomValue();
      break;
    case 3: {
      // swap the offsets of two entries
      const other = header[pick(names)];
      if (entry?.data_offsets !== undefined && other?.data_offsets !== undefined) {
        [entry.data_offsets, other.data_offsets] = [other.data_offsets, entry.data_offsets];
      }
      break;
    }
    case 4: // nudge one offset
      if (Array.isArray(entry?.data_offsets)) {
        const offsets = entry.data_offsets as number[];
        offsets[randomInt(2)] += pick([-8, -1, 1, 2, 8, 1000, 2 ** 33]);
      }
      break;
    case 5: // add an entry
      (header as Record<string, unknown>)[`extra${randomInt(3)}`] = {
        dtype: pick(["F32", "I64", "BF16", "XX"]),
        shape: randomValue(),
        data_offsets: randomValue(),
      };
      break;
    default: // change a shape element
      if (Array.isArray(entry?.shape) && (entry.shape as unknown[]).length > 0) {
        const shape = entry.shape as unknown[];
        shape[randomInt(shape.length)] = pick<unknown>([0, 1, 3, 4, -1, 2 ** 31, 1e20, "2", null]);
      }
      break;
  }
  return header;
}

test("hundreds of corrupted safetensors files: typed error or consistent data, never anything else", {
  timeout: 60_000,
}, () => {
  const { header, data } = baseFile();
  const valid = buildSafetensorsBytes(header, data);
  const headerEnd = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));
  const outcomes = { accepted: 0, rejected: 0 };
  const count = (outcome: Outcome): void => {
    outcomes[outcome]++;
  };

  assert.equal(exercise(valid), "accepted");

  // 1. Every truncation.
  for (let length = 0; length < valid.length; length++) {
    const outcome = exercise(valid.subarray(0, length));
    assert.equal(outcome, "rejected", `truncation to ${length} of ${valid.length} bytes was accepted`);
    count(outcome);
  }

  // 2. Random byte flips inside the length prefix and the header.
  for (let i = 0; i < 300; i++) {
    const bytes = valid.slice();
    const flips = 1 + randomInt(3);
    for (let f = 0; f < flips; f++) {
      const at = randomInt(headerEnd);
      bytes[at] = random() < 0.5 ? bytes[at] ^ (1 << randomInt(8)) : randomInt(256);
    }
    count(exercise(bytes));
  }

  // 3. Random byte flips in the data: the header is intact, so the file must open and read; F32 values must be
  //    exactly what the (mutated) bytes encode.
  for (let i = 0; i < 200; i++) {
    const bytes = valid.slice();
    const at = headerEnd + randomInt(valid.length - headerEnd);
    bytes[at] ^= 1 << randomInt(8);
    assert.equal(exercise(bytes), "accepted");
    count("accepted");
    const file = openSafetensors(path);
    const view = new DataView(bytes.buffer);
    const [begin] = file.fileRange("bias");
    assert.deepEqual(
      Array.from(file.readFloat32("bias")),
      [0, 1, 2].map((k) => view.getFloat32(begin + 4 * k, true)),
    );
    file.close();
  }

  // 4. Random structural JSON mutations (1 to 3 at once), re-serialised with valid padding.
  for (let i = 0; i < 400; i++) {
    let mutated = header;
    const rounds = 1 + randomInt(3);
    for (let r = 0; r < rounds; r++) mutated = mutateHeader(mutated);
    count(exercise(buildSafetensorsBytes(mutated, data, random() < 0.9)));
  }

  // 5. Random length prefixes (small, near the truth, huge).
  for (let i = 0; i < 100; i++) {
    const bytes = valid.slice();
    const truth = headerEnd - 8;
    const claimed = pick<() => bigint>([
      () => BigInt(randomInt(valid.length + 16)),
      () => BigInt(truth + pick([-8, -1, 1, 7, 8])),
      () => (BigInt(randomInt(2 ** 31)) << 32n) | BigInt(randomInt(2 ** 31)),
      () => 0n,
    ])();
    new DataView(bytes.buffer).setBigUint64(0, claimed < 0n ? 0n : claimed, true);
    count(exercise(bytes));
  }

  const total = outcomes.accepted + outcomes.rejected;
  assert.ok(total >= 1000, `only ${total} variants`);
  assert.ok(outcomes.rejected >= 500, `only ${outcomes.rejected} variants were rejected`);
  assert.ok(outcomes.accepted >= 200, `only ${outcomes.accepted} variants were accepted`);
});
