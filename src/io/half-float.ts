// Conversions between float32 and the two 16-bit float formats found in checkpoints:
//   F16  (IEEE 754 binary16: 1 sign, 5 exponent, 10 mantissa bits)
//   BF16 (bfloat16: the upper 16 bits of a float32: 1 sign, 8 exponent, 7 mantissa bits)
// Decoding is exact (every 16-bit value is representable in float32). Encoding rounds to nearest, ties to
// even, as PyTorch's `.half()` / `.bfloat16()` do; NaN stays NaN, overflow goes to +-Infinity.

let f16Table: Float32Array | null = null;

/** Lookup table: the float32 value of every binary16 bit pattern. [65536] */
function f16ToF32Table(): Float32Array {
  if (f16Table !== null) return f16Table;
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) table[bits] = decodeF16Bits(bits);
  f16Table = table;
  return table;
}

/** The float value of one binary16 bit pattern (0..65535). */
export function decodeF16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 31) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Converts binary16 bit patterns to float32: out[i] = value(bits[i]). `out` must have bits.length elements. */
export function f16ToF32(bits: Uint16Array, out: Float32Array): void {
  const table = f16ToF32Table();
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
}

/** Converts bfloat16 bit patterns to float32 (exact: a bfloat16 is the top half of a float32). */
export function bf16ToF32(bits: Uint16Array, out: Float32Array): void {
  const outBits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i] << 16;
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Rounds one float32 value to bfloat16 bits (round to nearest even; NaN -> quiet NaN 0x7fc0 with sign). */
export function encodeBf16Bits(value: number): number {
  scratchF32[0] = value;
  const bits = scratchU32[0];
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0)
    return ((bits >>> 16) & 0x8000) | 0x7fc0;
  const roundingBias = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + roundingBias) >>> 16) & 0xffff;
}

/** Rounds one float32 value to binary16 bits (round to nearest even, overflow to +-Infinity, NaN -> 0x7e00). */
export function encodeF16Bits(value: number): number {
  scratchF32[0] = value;
  const bits = scratchU32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return mantissa !== 0 ? sign | 0x7e00 : sign | 0x7c00;
  // Unbiased exponent; binary16 normal range is [-14, 15].
  const e = exponent - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    // Normal binary16: keep 10 mantissa bits, round the 13 dropped bits to nearest even.
    let half = ((e + 15) << 10) | (mantissa >>> 13);
    const dropped = mantissa & 0x1fff;
    if (dropped > 0x1000 || (dropped === 0x1000 && (half & 1) === 1)) half += 1; // may carry into the exponent
    return sign | half;
  }
  if (e < -25) return sign; // below half of the smallest subnormal: rounds to zero
  // Subnormal binary16: value = m * 2^-24 with m in [0, 1023]; include the implicit leading 1.
  mantissa |= 0x800000;
  const shift = -e - 1; // number of bits to drop from the 24-bit significand so the unit is 2^-24
  const kept = mantissa >>> shift;
  const dropped = mantissa & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  let result = kept;
  if (dropped > halfway || (dropped === halfway && (kept & 1) === 1)) result += 1;
  return sign | result;
}

/** Float32 values -> binary16 bit patterns. */
export function f32ToF16(values: ArrayLike<number>, out: Uint16Array): void {
  for (let i = 0; i < values.length; i++) out[i] = encodeF16Bits(values[i]);
}

/** Float32 values -> bfloat16 bit patterns. */
export function f32ToBf16(values: ArrayLike<number>, out: Uint16Array): void {
  for (let i = 0; i < values.length; i++) out[i] = encodeBf16Bits(values[i]);
}
