// Batched SGEMM: C = alpha * op(A) op(B) + beta * C, row-major, BLIS-style. A work item is one tile of C
// (tileM x tileN of one batch entry); for each KC-deep slice of k the tile's A rows and B columns are packed
// into MR-row / NR-column panels (alpha folded into A, edges zero-padded) and a register-blocked f32x4
// micro-kernel computes MR x NR blocks of C.
//
// Why 4 x 8: V8 keeps 15 xmm registers for wasm code (xmm15 is its scratch) and loads every value a basic
// block reads before the block's arithmetic, so a k step needs accumulators + loaded vectors + 1 product
// register <= 15: 4x8 fits (8 + 2 B + 4 A + 1); by that count 6x8, 4x12 and 8x8 spill. Measured on the
// 2-core Zen 3 host under load (Nov 2026): pre-splatted A panels (plain loads instead of load32_splat) and a
// 2x16 block were no faster, and the best runs reach about 90% of the f32x4 mul+add throughput a plain
// register-only loop gets on the same core (baseline wasm SIMD has no FMA).

import { loadTail, pf, pi, pp, storeTail } from "./common";

export const MR: i32 = 4;
export const NR: i32 = 8;
/** Largest k slice, tileM and tileN the JavaScript side may ask for (the scratch layout depends on them). */
export const MAX_KC: i32 = 512;
export const MAX_TILE_M: i32 = 256;
export const MAX_TILE_N: i32 = 512;
/** Scratch bytes one thread needs: packed A, packed B and an MR x NR edge tile. */
export const GEMM_SCRATCH_BYTES: i32 = (MAX_TILE_M * MAX_KC + MAX_KC * MAX_TILE_N + MR * NR) * 4 + 256;
/** Rows of a strided operand packed per pass, so that the cache lines they touch stay in L1. */
const PACK_BLOCK: i32 = 8;

/**
 * c + a * b. Built with relaxed SIMD (wasm/adaptlm_kernels_relaxed.wasm) this is one fused multiply-add,
 * which halves the arithmetic of the micro-kernel's k step; the baseline build keeps mul + add. The fused
 * form rounds once instead of twice, so the two builds may differ in the last bits of a sum.
 */
// @ts-ignore: decorator
@inline
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return v128.relaxed_madd<f32>(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/**
 * The 4x8 micro-kernel: acc[4][8] = sum_p ap[p][0..4] (x) bp[p][0..8], then C = acc + beta * C (beta 0:
 * overwrite). ap holds kc groups of 4 floats, bp kc groups of 8, kc >= 1. ldc is the row pitch of C in bytes.
 */
function kernel4x8(ap: usize, bp: usize, kc: i32, c: usize, ldc: usize, beta: f32): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  let a: v128;
  let b0: v128;
  let b1: v128;
  // Four k steps per loop turn (one stack check, two pointer bumps), each step ending in its own exit test.
  // The exit tests are what make this fast, not just a tail: V8 (TurboFan) schedules a basic block's loads
  // ahead of its arithmetic, so four steps in one block keep 24 loaded vectors live and spill; one block per
  // step keeps 6 loads + 8 accumulators + 1 product within the 15 usable xmm registers. Any kc works.
  let left = kc;
  while (true) {
    b0 = v128.load(bp, 0);
    b1 = v128.load(bp, 16);
    a = v128.load32_splat(ap, 0);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    if (--left == 0) break;
    b0 = v128.load(bp, 32);
    b1 = v128.load(bp, 48);
    a = v128.load32_splat(ap, 16);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 20);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 24);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 28);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    if (--left == 0) break;
    b0 = v128.load(bp, 64);
    b1 = v128.load(bp, 80);
    a = v128.load32_splat(ap, 32);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 36);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 40);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 44);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    if (--left == 0) break;
    b0 = v128.load(bp, 96);
    b1 = v128.load(bp, 112);
    a = v128.load32_splat(ap, 48);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 52);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 56);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 60);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    ap += 64;
    bp += 128;
    if (--left == 0) break;
  }
  if (beta == 0) {
    v128.store(c, c00);
    v128.store(c, c01, 16);
    c += ldc;
    v128.store(c, c10);
    v128.store(c, c11, 16);
    c += ldc;
    v128.store(c, c20);
    v128.store(c, c21, 16);
    c += ldc;
    v128.store(c, c30);
    v128.store(c, c31, 16);
  } else {
    const bv = f32x4.splat(beta);
    v128.store(c, f32x4.add(c00, f32x4.mul(bv, v128.load(c))));
    v128.store(c, f32x4.add(c01, f32x4.mul(bv, v128.load(c, 16))), 16);
    c += ldc;
    v128.store(c, f32x4.add(c10, f32x4.mul(bv, v128.load(c))));
    v128.store(c, f32x4.add(c11, f32x4.mul(bv, v128.load(c, 16))), 16);
    c += ldc;
    v128.store(c, f32x4.add(c20, f32x4.mul(bv, v128.load(c))));
    v128.store(c, f32x4.add(c21, f32x4.mul(bv, v128.load(c, 16))), 16);
    c += ldc;
    v128.store(c, f32x4.add(c30, f32x4.mul(bv, v128.load(c))));
    v128.store(c, f32x4.add(c31, f32x4.mul(bv, v128.load(c, 16))), 16);
  }
}

// @ts-ignore: decorator
@inline function transpose4(
  v0: v128,
  v1: v128,
  v2: v128,
  v3: v128,
  dst: usize,
  pitch: usize,
): void {
  const t0 = v128.shuffle<i32>(v0, v1, 0, 4, 1, 5);
  const t1 = v128.shuffle<i32>(v0, v1, 2, 6, 3, 7);
  const t2 = v128.shuffle<i32>(v2, v3, 0, 4, 1, 5);
  const t3 = v128.shuffle<i32>(v2, v3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<i32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst + pitch, v128.shuffle<i32>(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * pitch, v128.shuffle<i32>(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * pitch, v128.shuffle<i32>(t1, t3, 2, 3, 6, 7));
}

/**
 * Packs rows [0, mi) x k-slice [0, kc) of op(A) into panels of MR rows: panel r holds kc groups of MR
 * floats. a points at op(A)[i0, p0]; rowStep/kStep are the byte strides of op(A)'s row and k index.
 */
function packA(a: usize, rowStep: usize, kStep: usize, mi: i32, kc: i32, alpha: f32, dst: usize): void {
  const av = f32x4.splat(alpha);
  for (let i = 0; i < mi; i += MR) {
    const rows = min(MR, mi - i);
    const src = a + <usize>i * rowStep;
    const panel = dst + <usize>(i * kc) * 4;
    if (rows == MR && kStep == 4) {
      // A row-major: 4 rows x 4 k values per transpose
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const s = src + (<usize>p << 2);
        transpose4(
          f32x4.mul(v128.load(s), av),
          f32x4.mul(v128.load(s + rowStep), av),
          f32x4.mul(v128.load(s + 2 * rowStep), av),
          f32x4.mul(v128.load(s + 3 * rowStep), av),
          panel + (<usize>p << 4),
          16,
        );
      }
      for (; p < kc; p++) {
        const s = src + (<usize>p << 2);
        const d = panel + (<usize>p << 4);
        store<f32>(d, load<f32>(s) * alpha);
        store<f32>(d, load<f32>(s + rowStep) * alpha, 4);
        store<f32>(d, load<f32>(s + 2 * rowStep) * alpha, 8);
        store<f32>(d, load<f32>(s + 3 * rowStep) * alpha, 12);
      }
    } else if (rows == MR && rowStep == 4) {
      // A stored transposed: the MR values of one k are contiguous (handled below, blocked over k)
      continue;
    } else {
      for (let p = 0; p < kc; p++) {
        const d = panel + <usize>(p * MR) * 4;
        for (let r = 0; r < MR; r++) {
          store<f32>(d + (<usize>r << 2), r < rows ? load<f32>(src + <usize>r * rowStep + <usize>p * kStep) * alpha : 0);
        }
      }
    }
  }
}

/**
 * packA for A stored transposed ([k, m]): the k rows are far apart in memory, so they are visited in blocks
 * of PACK_BLOCK rows across all panels (a row's cache line then serves every panel it holds).
 */
function packATransposed(a: usize, kStep: usize, mi: i32, kc: i32, alpha: f32, dst: usize): void {
  const av = f32x4.splat(alpha);
  const full = mi - (mi % MR);
  for (let p0 = 0; p0 < kc; p0 += PACK_BLOCK) {
    const p1 = min(kc, p0 + PACK_BLOCK);
    for (let i = 0; i < full; i += MR) {
      const panel = dst + <usize>(i * kc) * 4;
      const src = a + (<usize>i << 2);
      for (let p = p0; p < p1; p++) {
        v128.store(panel + (<usize>p << 4), f32x4.mul(v128.load(src + <usize>p * kStep), av));
      }
    }
  }
}

/**
 * packB for B not transposed ([k, n]): like packATransposed, rows are visited in blocks across all panels.
 */
function packBRows(b: usize, kStep: usize, kc: i32, nj: i32, dst: usize): void {
  const full = nj - (nj % NR);
  for (let p0 = 0; p0 < kc; p0 += PACK_BLOCK) {
    const p1 = min(kc, p0 + PACK_BLOCK);
    for (let j = 0; j < full; j += NR) {
      const panel = dst + <usize>(j * kc) * 4;
      const src = b + (<usize>j << 2);
      for (let p = p0; p < p1; p++) {
        const s = src + <usize>p * kStep;
        const d = panel + (<usize>p << 5);
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
      }
    }
  }
}

/**
 * Packs k-slice [0, kc) x columns [0, nj) of op(B) into panels of NR columns: panel j holds kc groups of NR
 * floats. b points at op(B)[p0, j0]; kStep/colStep are the byte strides of op(B)'s k and column index.
 */
function packB(b: usize, kStep: usize, colStep: usize, kc: i32, nj: i32, dst: usize): void {
  for (let j = 0; j < nj; j += NR) {
    const cols = min(NR, nj - j);
    const src = b + <usize>j * colStep;
    const panel = dst + <usize>(j * kc) * 4;
    if (cols == NR && colStep == 4) {
      continue; // packBRows does the full panels of a row-major B
    } else if (cols == NR && kStep == 4) {
      // B stored transposed ([n, k]): 4 columns x 4 k values per transpose, two halves of the panel
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const s = src + (<usize>p << 2);
        const d = panel + (<usize>p << 5);
        transpose4(
          v128.load(s),
          v128.load(s + colStep),
          v128.load(s + 2 * colStep),
          v128.load(s + 3 * colStep),
          d,
          32,
        );
        const s4 = s + 4 * colStep;
        transpose4(
          v128.load(s4),
          v128.load(s4 + colStep),
          v128.load(s4 + 2 * colStep),
          v128.load(s4 + 3 * colStep),
          d + 16,
          32,
        );
      }
      for (; p < kc; p++) {
        const d = panel + (<usize>p << 5);
        for (let c = 0; c < NR; c++) store<f32>(d + (<usize>c << 2), load<f32>(src + <usize>c * colStep + (<usize>p << 2)));
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const d = panel + <usize>(p * NR) * 4;
        for (let c = 0; c < NR; c++) {
          store<f32>(d + (<usize>c << 2), c < cols ? load<f32>(src + <usize>c * colStep + <usize>p * kStep) : 0);
        }
      }
    }
  }
}

/**
 * Params: 0 batch, 1 m, 2 n, 3 k, 4 a (byte address of A_0), 5 strideA, 6 transA, 7 b, 8 strideB, 9 transB,
 * 10 c, 11 strideC, 12 alpha, 13 beta, 14 tileM, 15 tileN, 16 tilesM, 17 tilesN, 18 kc (<= MAX_KC),
 * 19 loop order (0: B panel outer, 1: A panel outer). Items: batch x tilesM x tilesN tiles.
 */
export function gemmTiles(params: usize, begin: i32, end: i32, scratch: usize): void {
  const m = pi(params, 1);
  const n = pi(params, 2);
  const k = pi(params, 3);
  const aBase = pp(params, 4);
  const strideA = <usize>(<u64>pf(params, 5)) << 2;
  const transA = pi(params, 6) != 0;
  const bBase = pp(params, 7);
  const strideB = <usize>(<u64>pf(params, 8)) << 2;
  const transB = pi(params, 9) != 0;
  const cBase = pp(params, 10);
  const strideC = <usize>(<u64>pf(params, 11)) << 2;
  const alpha = <f32>pf(params, 12);
  const beta = <f32>pf(params, 13);
  const tileM = pi(params, 14);
  const tileN = pi(params, 15);
  const tilesM = pi(params, 16);
  const tilesN = pi(params, 17);
  const KC = pi(params, 18);
  const aOuter = pi(params, 19) != 0;

  // op(A)[i, p] = a + i * aRow + p * aK; op(B)[p, j] = b + p * bK + j * bCol (byte strides)
  const aRow: usize = transA ? 4 : <usize>k << 2;
  const aK: usize = transA ? <usize>m << 2 : 4;
  const bK: usize = transB ? 4 : <usize>n << 2;
  const bCol: usize = transB ? <usize>k << 2 : 4;
  const ldc: usize = <usize>n << 2;

  const packedA = (scratch + 63) & ~(<usize>63);
  const packedB = packedA + <usize>(MAX_TILE_M * MAX_KC) * 4;
  const edge = packedB + <usize>(MAX_KC * MAX_TILE_N) * 4;

  // Items are ordered (batch, tile row, tile column). The tiles of [begin, end) that share a tile column are
  // visited together, so each k slice of that column's B is packed once for all of them rather than once per
  // tile (a single-thread call covers every tile: B is then packed exactly once).
  const perBatch = tilesM * tilesN;
  for (let bi = begin / perBatch; bi * perBatch < end; bi++) {
    const lo = max(begin - bi * perBatch, 0);
    const hi = min(end - bi * perBatch, perBatch);
    for (let tj = 0; tj < tilesN; tj++) {
      // tile rows ti with lo <= ti * tilesN + tj < hi
      const tiFirst = lo <= tj ? 0 : (lo - tj + tilesN - 1) / tilesN;
      const tiLast = hi - 1 < tj ? -1 : (hi - 1 - tj) / tilesN;
      if (tiFirst > tiLast) continue;
      const j0 = tj * tileN;
      const nj = min(tileN, n - j0);
      const b = bBase + <usize>bi * strideB + <usize>j0 * bCol;
      const cColumn = cBase + <usize>bi * strideC + (<usize>j0 << 2);

      if (k == 0) {
        for (let i = tiFirst * tileM; i < min(m, (tiLast + 1) * tileM); i++) {
          const row = cColumn + <usize>i * ldc;
          for (let j = 0; j < nj; j++) {
            const q = row + (<usize>j << 2);
            store<f32>(q, beta == 0 ? 0 : beta * load<f32>(q));
          }
        }
        continue;
      }

      for (let p0 = 0; p0 < k; p0 += KC) {
        const kc = min(KC, k - p0);
        const betaNow: f32 = p0 == 0 ? beta : 1;
        packB(b + <usize>p0 * bK, bK, bCol, kc, nj, packedB);
        if (bCol == 4) packBRows(b + <usize>p0 * bK, bK, kc, nj, packedB);
        for (let ti = tiFirst; ti <= tiLast; ti++) {
          const i0 = ti * tileM;
          const mi = min(tileM, m - i0);
          const a = aBase + <usize>bi * strideA + <usize>i0 * aRow;
          const c = cColumn + <usize>i0 * ldc;
          packA(a + <usize>p0 * aK, aRow, aK, mi, kc, alpha, packedA);
          if (aRow == 4) packATransposed(a + <usize>p0 * aK, aK, mi, kc, alpha, packedA);
          if (aOuter) {
            for (let i = 0; i < mi; i += MR) {
              const rows = min(MR, mi - i);
              const ap = packedA + <usize>(i * kc) * 4;
              for (let j = 0; j < nj; j += NR) {
                const cols = min(NR, nj - j);
                block(ap, packedB + <usize>(j * kc) * 4, kc, c + <usize>i * ldc + (<usize>j << 2), ldc, betaNow, rows, cols, edge);
              }
            }
          } else {
            for (let j = 0; j < nj; j += NR) {
              const cols = min(NR, nj - j);
              const bp = packedB + <usize>(j * kc) * 4;
              for (let i = 0; i < mi; i += MR) {
                const rows = min(MR, mi - i);
                block(packedA + <usize>(i * kc) * 4, bp, kc, c + <usize>i * ldc + (<usize>j << 2), ldc, betaNow, rows, cols, edge);
              }
            }
          }
        }
      }
    }
  }
}

/** One MR x NR block of C; partial blocks go through the edge buffer. */
// @ts-ignore: decorator
@inline function block(
  ap: usize,
  bp: usize,
  kc: i32,
  cij: usize,
  ldc: usize,
  beta: f32,
  rows: i32,
  cols: i32,
  edge: usize,
): void {
  if (rows == MR && cols == NR) {
    kernel4x8(ap, bp, kc, cij, ldc, beta);
  } else {
    kernel4x8(ap, bp, kc, edge, <usize>NR << 2, 0);
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < cols; q++) {
        const dst = cij + <usize>r * ldc + (<usize>q << 2);
        const v = load<f32>(edge + <usize>(r * NR + q) * 4);
        store<f32>(dst, beta == 0 ? v : v + beta * load<f32>(dst));
      }
    }
  }
}


/** Columns of C per work item of the small-m path: B transposed (dot products) and B row-major. */
export const SMALL_M_COLUMNS_T: i32 = 64;
export const SMALL_M_COLUMNS_N: i32 = 512;
/** The small-m path handles m up to this; larger m goes through packing and the micro-kernel. */
export const SMALL_M_MAX: i32 = 3;

/**
 * GEMM for m <= SMALL_M_MAX (matrix-vector like products: generation with a KV cache, tiny batches), where
 * packing B would cost as much as the product. The m rows of op(A) (times alpha) are copied contiguous into
 * scratch; B is streamed straight from memory. Same params as gemmTiles; items: batch x ceil(n / 64).
 */
export function gemmSmallM(params: usize, begin: i32, end: i32, scratch: usize): void {
  const m = pi(params, 1);
  const n = pi(params, 2);
  const k = pi(params, 3);
  const aBase = pp(params, 4);
  const strideA = <usize>(<u64>pf(params, 5)) << 2;
  const transA = pi(params, 6) != 0;
  const bBase = pp(params, 7);
  const strideB = <usize>(<u64>pf(params, 8)) << 2;
  const transB = pi(params, 9) != 0;
  const cBase = pp(params, 10);
  const strideC = <usize>(<u64>pf(params, 11)) << 2;
  const alpha = <f32>pf(params, 12);
  const beta = <f32>pf(params, 13);
  const aRow: usize = transA ? 4 : <usize>k << 2;
  const aK: usize = transA ? <usize>m << 2 : 4;
  const ldc: usize = <usize>n << 2;
  const width = transB ? SMALL_M_COLUMNS_T : SMALL_M_COLUMNS_N;
  const blocks = (n + width - 1) / width;
  const rowsA = (scratch + 63) & ~(<usize>63);
  const kBytes = <usize>k << 2;
  // row-major B: m accumulator rows of `width` floats after the packed A rows
  const accRows = rowsA + ((<usize>m * kBytes + 63) & ~(<usize>63));
  const accPitch = <usize>SMALL_M_COLUMNS_N << 2;
  let packedBatch = -1;
  for (let item = begin; item < end; item++) {
    const bi = item / blocks;
    const j0 = (item - bi * blocks) * width;
    const j1 = min(n, j0 + width);
    if (bi != packedBatch) {
      const a = aBase + <usize>bi * strideA;
      for (let i = 0; i < m; i++) {
        const src = a + <usize>i * aRow;
        const dst = rowsA + <usize>i * kBytes;
        for (let p = 0; p < k; p++) store<f32>(dst + (<usize>p << 2), load<f32>(src + <usize>p * aK) * alpha);
      }
      packedBatch = bi;
    }
    const b = bBase + <usize>bi * strideB;
    const c = cBase + <usize>bi * strideC;
    if (transB) {
      for (let i = 0; i < m; i++) {
        const ai = rowsA + <usize>i * kBytes;
        const ci = c + <usize>i * ldc;
        // C[i, j] = dot(A[i, :], B[j, :])
        for (let j = j0; j < j1; j++) {
          const bj = b + <usize>j * kBytes;
          let acc0 = f32x4.splat(0);
          let acc1 = f32x4.splat(0);
          let p = 0;
          for (; p + 8 <= k; p += 8) {
            const o = <usize>p << 2;
            acc0 = f32x4.add(acc0, f32x4.mul(v128.load(ai + o), v128.load(bj + o)));
            acc1 = f32x4.add(acc1, f32x4.mul(v128.load(ai + o, 16), v128.load(bj + o, 16)));
          }
          acc0 = f32x4.add(acc0, acc1);
          let s = f32x4.extract_lane(acc0, 0) + f32x4.extract_lane(acc0, 1) + (f32x4.extract_lane(acc0, 2) + f32x4.extract_lane(acc0, 3));
          for (; p < k; p++) s += load<f32>(ai + (<usize>p << 2)) * load<f32>(bj + (<usize>p << 2));
          const q = ci + (<usize>j << 2);
          store<f32>(q, beta == 0 ? s : s + beta * load<f32>(q));
        }
      }
      continue;
    }
    // row-major B: stream whole row segments B[p, j0:j1] and accumulate the m rows of C in scratch
    const cols = j1 - j0;
    const vecs = cols >> 2;
    const rest = cols & 3;
    memory.fill(accRows, 0, <usize>m * accPitch);
    for (let p = 0; p < k; p++) {
      const bp = b + <usize>p * ldc + (<usize>j0 << 2);
      for (let i = 0; i < m; i++) {
        const av = v128.load32_splat(rowsA + <usize>i * kBytes + (<usize>p << 2));
        const acc = accRows + <usize>i * accPitch;
        for (let v = 0; v < vecs; v++) {
          const o = <usize>v << 4;
          v128.store(acc + o, f32x4.add(v128.load(acc + o), f32x4.mul(av, v128.load(bp + o))));
        }
        if (rest > 0) {
          const o = <usize>vecs << 4;
          storeTail(acc + o, f32x4.add(loadTail(acc + o, rest), f32x4.mul(av, loadTail(bp + o, rest))), rest);
        }
      }
    }
    for (let i = 0; i < m; i++) {
      const acc = accRows + <usize>i * accPitch;
      const q = c + <usize>i * ldc + (<usize>j0 << 2);
      for (let j = 0; j < cols; j += 4) {
        const count = min(4, cols - j);
        const o = <usize>j << 2;
        let v = loadTail4(acc + o, count);
        if (beta != 0) v = f32x4.add(v, f32x4.mul(f32x4.splat(beta), loadTail4(q + o, count)));
        storeTail4(q + o, v, count);
      }
    }
  }
}

// @ts-ignore: decorator
@inline function loadTail4(ptr: usize, count: i32): v128 {
  return count == 4 ? v128.load(ptr) : loadTail(ptr, count);
}

// @ts-ignore: decorator
@inline function storeTail4(ptr: usize, v: v128, count: i32): void {
  if (count == 4) v128.store(ptr, v);
  else storeTail(ptr, v, count);
}

/**
 * The ceiling the micro-kernel is measured against: `iterations` steps of 12 independent madd chains held in
 * registers (no loads or stores), 48 multiply-adds per step in this build's form (fused with relaxed SIMD,
 * mul + add without). The benchmark times it to report the GEMM as a share of what the engine and core can
 * do, which moves with the clock more than any kernel change does.
 */
export function multiplyAddPeak(iterations: i32): f32 {
  const x = f32x4.splat(0.999999);
  const y = f32x4.splat(0.000001);
  let a0 = f32x4.splat(1.0);
  let a1 = f32x4.splat(1.1);
  let a2 = f32x4.splat(1.2);
  let a3 = f32x4.splat(1.3);
  let a4 = f32x4.splat(1.4);
  let a5 = f32x4.splat(1.5);
  let a6 = f32x4.splat(1.6);
  let a7 = f32x4.splat(1.7);
  let a8 = f32x4.splat(1.8);
  let a9 = f32x4.splat(1.9);
  let a10 = f32x4.splat(2.0);
  let a11 = f32x4.splat(2.1);
  for (let i = 0; i < iterations; i++) {
    a0 = madd(a0, x, y);
    a1 = madd(a1, x, y);
    a2 = madd(a2, x, y);
    a3 = madd(a3, x, y);
    a4 = madd(a4, x, y);
    a5 = madd(a5, x, y);
    a6 = madd(a6, x, y);
    a7 = madd(a7, x, y);
    a8 = madd(a8, x, y);
    a9 = madd(a9, x, y);
    a10 = madd(a10, x, y);
    a11 = madd(a11, x, y);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  return f32x4.extract_lane(f32x4.add(s, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11))), 0);
}
