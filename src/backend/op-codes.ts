// The numbering of element-wise ops shared by the compiled backends (native/kernels.c and assembly/ use the
// same numbers in their switch statements): part of their calling convention, defined once.

import type { BinaryOp, UnaryOp } from "./backend.js";

export const UNARY_CODES: Record<UnaryOp, number> = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  rsqrt: 4,
  tanh: 5,
  sigmoid: 6,
  relu: 7,
  gelu: 8,
  geluTanh: 9,
  silu: 10,
  abs: 11,
  square: 12,
  scale: 13,
  shift: 14,
  pow: 15,
  rdiv: 16,
};

export const BINARY_CODES: Record<BinaryOp, number> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  pow: 4,
  max: 5,
  min: 6,
  eq: 7,
  gt: 8,
  lt: 9,
};
