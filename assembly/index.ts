// Entry point of the wasm kernels: every export the JavaScript side calls.
export { gemmTiles, gemmSmallM, multiplyAddPeak } from "./gemm";
export {
  unaryKernel,
  unaryBackwardKernel,
  binaryKernel,
  whereKernel,
  copyKernel,
  fillKernel,
  reduceKernel,
  argmaxKernel,
  sumSquaresKernel,
  adamwKernel,
} from "./elementwise";
export {
  softmaxKernel,
  softmaxBackwardKernel,
  normKernel,
  normBackwardKernel,
  normParamGradKernel,
  gatherRowsKernel,
  scatterAddRowsKernel,
  crossEntropyKernel,
  crossEntropyBackwardKernel,
  ropeKernel,
} from "./rows";
export { attentionKernel, attentionBackwardKernel } from "./attention";
export { sampleRowsKernel } from "./sampling";
import { GEMM_SCRATCH_BYTES, MAX_KC, MAX_TILE_M, MAX_TILE_N, MR, NR, SMALL_M_COLUMNS_N, SMALL_M_COLUMNS_T, SMALL_M_MAX } from "./gemm";

/** First byte of linear memory not used by the module's static data. */
export function heapBase(): usize {
  return __heap_base;
}
export function gemmScratchBytes(): i32 {
  return GEMM_SCRATCH_BYTES;
}
export function gemmMaxTileM(): i32 {
  return MAX_TILE_M;
}
export function gemmMaxTileN(): i32 {
  return MAX_TILE_N;
}
export function gemmMR(): i32 {
  return MR;
}
export function gemmNR(): i32 {
  return NR;
}
export function gemmMaxKC(): i32 {
  return MAX_KC;
}
export function gemmSmallMMax(): i32 {
  return SMALL_M_MAX;
}
export function gemmSmallMColumns(transB: i32): i32 {
  return transB != 0 ? SMALL_M_COLUMNS_T : SMALL_M_COLUMNS_N;
}
