import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  bf16ToF32,
  decodeF16Bits,
  encodeBf16Bits,
  encodeF16Bits,
  f16ToF32,
} from "../../src/io/half-float.js";

describe("half-float conversions", () => {
  test("every finite binary16 pattern decodes and re-encodes to itself", () => {
    const bits = new Uint16Array(65536).map((_, i) => i);
    const values = new Float32Array(65536);
    f16ToF32(bits, values);
    for (let i = 0; i < 65536; i++) {
      assert.ok(
        Object.is(values[i], decodeF16Bits(i)) || (Number.isNaN(values[i]) && Number.isNaN(decodeF16Bits(i))),
      );
      if (Number.isNaN(values[i])) {
        assert.equal(encodeF16Bits(values[i]) & 0x7e00, 0x7e00);
        continue;
      }
      assert.equal(encodeF16Bits(values[i]), i, `pattern 0x${i.toString(16)}`);
    }
  });

  test("every bfloat16 pattern decodes and re-encodes to itself", () => {
    const bits = new Uint16Array(65536).map((_, i) => i);
    const values = new Float32Array(65536);
    bf16ToF32(bits, values);
    for (let i = 0; i < 65536; i++) {
      if (Number.isNaN(values[i])) continue;
      assert.equal(encodeBf16Bits(values[i]), i, `pattern 0x${i.toString(16)}`);
    }
  });

  test("float32 -> binary16 rounds to nearest, ties to even", () => {
    const ulp = 2 ** -10; // spacing of binary16 just above 1
    assert.equal(encodeF16Bits(1 + ulp / 2), 0x3c00); // tie, 0x3c00 is even: stays
    assert.equal(encodeF16Bits(1 + (3 * ulp) / 2), 0x3c02); // tie, rounds up to even
    assert.equal(encodeF16Bits(1 + ulp / 2 + 2 ** -20), 0x3c01); // just above the tie
    assert.equal(encodeF16Bits(65519), 0x7bff); // below the overflow threshold
    assert.equal(encodeF16Bits(65520), 0x7c00); // rounds to infinity
    assert.equal(encodeF16Bits(1e10), 0x7c00);
    assert.equal(encodeF16Bits(-1e10), 0xfc00);
    assert.equal(encodeF16Bits(2 ** -25), 0x0000); // half of the smallest subnormal, tie to even (0)
    assert.equal(encodeF16Bits(1.5 * 2 ** -25), 0x0001);
    assert.equal(encodeF16Bits(3 * 2 ** -25), 0x0002); // 1.5 subnormal units: tie to even (2)
    assert.equal(encodeF16Bits(2 ** -14 - 2 ** -25), 0x0400); // largest subnormal + half unit rounds to min normal
    assert.equal(encodeF16Bits(-0), 0x8000);
    assert.equal(encodeF16Bits(Number.NaN) & 0x7c00, 0x7c00);
  });

  test("float32 -> bfloat16 rounds to nearest, ties to even", () => {
    assert.equal(encodeBf16Bits(1 + 2 ** -8), 0x3f80); // tie, even stays
    assert.equal(encodeBf16Bits(1 + 3 * 2 ** -8), 0x3f82); // tie, rounds up to even
    assert.equal(encodeBf16Bits(1 + 2 ** -8 + 2 ** -20), 0x3f81);
    assert.equal(encodeBf16Bits(3.4028234663852886e38), 0x7f80); // max float32 rounds to infinity
    assert.equal(encodeBf16Bits(Number.NaN) & 0x7fc0, 0x7fc0);
  });
});
