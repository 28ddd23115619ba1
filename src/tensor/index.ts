// The tensor layer's public surface: Tensor, autograd, scopes and every op.

export { backward, needsGrad, record } from "./autograd.js";
export * from "./errors.js";
export { isGradEnabled, noGrad } from "./grad-mode.js";
export { type AttentionLayout, type AttentionOptions, attention, withPrefix } from "./ops/attention.js";
export { broadcastShapes, sumToShape } from "./ops/broadcast.js";
export { dropout } from "./ops/dropout.js";
export * from "./ops/elementwise.js";
export { embedding } from "./ops/embedding.js";
export { type CachedKeys, KVBuffer, KVCache, type SharedKeys } from "./ops/kv-cache.js";
export { crossEntropy, IGNORE_INDEX } from "./ops/loss.js";
export { causalBias, MASKED_BIAS, paddingBias } from "./ops/masks.js";
export { flattenRows, linear, type MatmulOptions, matmul } from "./ops/matmul.js";
export { layerNorm, rmsNorm } from "./ops/norm.js";
export { argmax, max, mean, sum } from "./ops/reduce.js";
export { rope, ropeInverseFrequencies } from "./ops/rope.js";
export {
  concat,
  expand,
  permute,
  reshape,
  slice,
  squeeze,
  stack,
  transpose,
  unsqueeze,
} from "./ops/shape.js";
export { logSoftmax, softmax } from "./ops/softmax.js";
export { setSparseRowGradients } from "./ops/sparse-rows.js";
export {
  activePackedWeights,
  PACKED_MAX_ROWS,
  PACKED_MIN_ROWS,
  PackedWeights,
  usePackedWeights,
} from "./packed-weights.js";
export { Rng } from "./random.js";
export { inferenceScope, keep, scope, untracked } from "./scope.js";
export {
  copyTo,
  empty,
  full,
  type GradNode,
  liveStorageCount,
  ones,
  persistentZeros,
  Storage,
  scalar,
  sizeOf,
  Tensor,
  tensor,
  viewOf,
  zeros,
  zerosLike,
} from "./tensor.js";
