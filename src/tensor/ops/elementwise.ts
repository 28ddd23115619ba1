// Element-wise ops: unary maps, scalar arithmetic, broadcasting binary arithmetic, comparisons and where.

import type { BinaryOp, FloatArray, UnaryOp } from "../../backend/backend.js";
import { needsGrad, record } from "../autograd.js";
import { DTypeError, NonFiniteError, ShapeError, shapeString } from "../errors.js";
import { empty, full, type Tensor, zeros } from "../tensor.js";
import { broadcastShapes, broadcastStrides, sumToShape } from "./broadcast.js";
import { onLiveRows } from "./sparse-rows.js";

export function requireFloat(op: string, ...tensors: Tensor[]): void {
  for (const t of tensors) {
    if (t.dtype === "int32") {
      throw new DTypeError(
        op,
        `expects float tensors, got int32 ${shapeString(t.shape)}; convert ids/masks with toFloat()`,
      );
    }
  }
}

export function requireSameBackend(op: string, ...tensors: Tensor[]): void {
  const name = tensors[0].backend;
  for (const t of tensors) {
    if (t.backend !== name) {
      throw new ShapeError(
        op,
        `operands live on different backends (${name.name} and ${t.backend.name}); copy one with copyTo()`,
      );
    }
  }
}

export function requireSameFloatType(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype)
    throw new DTypeError(op, `operands have different dtypes (${a.dtype} and ${b.dtype})`);
}

/**
 * Activations whose backward pass may skip the rows where the gradient is zero (sparse-rows.ts): their
 * derivative is finite at every finite input, so a zero gradient gives a zero one (log, sqrt and the like
 * would turn a zero into NaN at 0, and keep the dense pass).
 */
const ROW_WISE_BACKWARD: ReadonlySet<UnaryOp> = new Set<UnaryOp>([
  "gelu",
  "geluTanh",
  "silu",
  "relu",
  "tanh",
  "sigmoid",
]);

function unary(op: UnaryOp, x: Tensor, alpha = 0): Tensor {
  requireFloat(op, x);
  const out = empty(x.shape, x.dtype, x.backend);
  x.backend.unary(op, x.floats, out.floats, x.size, alpha);
  if (needsGrad(x)) {
    record(out, op, [x], (g) => {
      if (ROW_WISE_BACKWARD.has(op) && x.rank >= 2) {
        const cols = x.shape[x.rank - 1];
        const dx = onLiveRows(g, x, cols, [out], (gl, xl, [yl], n, dxl) =>
          x.backend.unaryBackward(op, xl.floats, yl.floats, gl.floats, dxl.floats, n * cols, alpha),
        );
        return [dx];
      }
      const dx = empty(x.shape, x.dtype, x.backend);
      x.backend.unaryBackward(op, x.floats, out.floats, g.floats, dx.floats, x.size, alpha);
      return [dx];
    });
  }
  return out;
}

export const neg = (x: Tensor): Tensor => unary("neg", x);
export const exp = (x: Tensor): Tensor => unary("exp", x);
export const log = (x: Tensor): Tensor => unary("log", x);
export const sqrt = (x: Tensor): Tensor => unary("sqrt", x);
export const rsqrt = (x: Tensor): Tensor => unary("rsqrt", x);
export const tanh = (x: Tensor): Tensor => unary("tanh", x);
export const sigmoid = (x: Tensor): Tensor => unary("sigmoid", x);
export const relu = (x: Tensor): Tensor => unary("relu", x);
/** GELU, exact erf form (BERT's "gelu"). */
export const gelu = (x: Tensor): Tensor => unary("gelu", x);
/** GELU, tanh approximation (GPT-2's "gelu_new"). */
export const geluTanh = (x: Tensor): Tensor => unary("geluTanh", x);
export const silu = (x: Tensor): Tensor => unary("silu", x);
export const abs = (x: Tensor): Tensor => unary("abs", x);
export const square = (x: Tensor): Tensor => unary("square", x);
/** x * s */
export const mulScalar = (x: Tensor, s: number): Tensor => unary("scale", x, s);
/** x + s */
export const addScalar = (x: Tensor, s: number): Tensor => unary("shift", x, s);
/** x ** p */
export const powScalar = (x: Tensor, p: number): Tensor => unary("pow", x, p);
/** s / x */
export const rdivScalar = (x: Tensor, s: number): Tensor => unary("rdiv", x, s);

function binaryForward(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  requireFloat(op, a, b);
  requireSameBackend(op, a, b);
  requireSameFloatType(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = empty(shape, a.dtype, a.backend);
  a.backend.binary(
    op,
    a.floats,
    broadcastStrides(a.shape, shape),
    b.floats,
    broadcastStrides(b.shape, shape),
    out.floats,
    shape,
  );
  return out;
}

/** Applies a binary op on already-broadcast-compatible tensors without recording (for backward passes). */
function raw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  return binaryForward(op, a, b);
}

export function add(a: Tensor, b: Tensor): Tensor {
  const out = binaryForward("add", a, b);
  if (needsGrad(a, b)) {
    record(out, "add", [a, b], (g) => [
      a.requiresGrad ? sumToShape(g, a.shape) : null,
      b.requiresGrad ? sumToShape(g, b.shape) : null,
    ]);
  }
  return out;
}

export function sub(a: Tensor, b: Tensor): Tensor {
  const out = binaryForward("sub", a, b);
  if (needsGrad(a, b)) {
    record(out, "sub", [a, b], (g) => {
      let gb: Tensor | null = null;
      if (b.requiresGrad) {
        const summed = sumToShape(g, b.shape);
        gb = neg(summed);
        summed.dispose();
      }
      return [a.requiresGrad ? sumToShape(g, a.shape) : null, gb];
    });
  }
  return out;
}

function reduceProduct(g: Tensor, other: Tensor, shape: readonly number[], op: BinaryOp): Tensor {
  const product = raw(op, g, other);
  const reduced = sumToShape(product, shape);
  product.dispose();
  return reduced;
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const out = binaryForward("mul", a, b);
  if (needsGrad(a, b)) {
    record(out, "mul", [a, b], (g) => [
      a.requiresGrad ? reduceProduct(g, b, a.shape, "mul") : null,
      b.requiresGrad ? reduceProduct(g, a, b.shape, "mul") : null,
    ]);
  }
  return out;
}

export function div(a: Tensor, b: Tensor): Tensor {
  const out = binaryForward("div", a, b);
  if (needsGrad(a, b)) {
    record(out, "div", [a, b], (g) => {
      const ga = a.requiresGrad ? reduceProduct(g, b, a.shape, "div") : null;
      let gb: Tensor | null = null;
      if (b.requiresGrad) {
        // d(a/b)/db = -out / b
        const ratio = raw("div", out, b);
        const product = raw("mul", g, ratio);
        const summed = sumToShape(product, b.shape);
        gb = neg(summed);
        for (const t of [ratio, product, summed]) t.dispose();
      }
      return [ga, gb];
    });
  }
  return out;
}

/** a ** b element-wise with broadcasting (a > 0 where b is not an integer, as in torch). */
export function pow(a: Tensor, b: Tensor): Tensor {
  const out = binaryForward("pow", a, b);
  if (needsGrad(a, b)) {
    record(out, "pow", [a, b], (g) => {
      let ga: Tensor | null = null;
      let gb: Tensor | null = null;
      if (a.requiresGrad) {
        // d/da = b * a^(b-1) = b * out / a
        const ratio = raw("div", out, a);
        const slope = raw("mul", ratio, b);
        ga = reduceProduct(g, slope, a.shape, "mul");
        ratio.dispose();
        slope.dispose();
      }
      if (b.requiresGrad) {
        // d/db = out * ln(a)
        const lnA = log(a);
        const slope = raw("mul", out, lnA);
        gb = reduceProduct(g, slope, b.shape, "mul");
        lnA.dispose();
        slope.dispose();
      }
      return [ga, gb];
    });
  }
  return out;
}

/** Routes g to a where mask != 0 and to b elsewhere, each summed back to its operand's shape. */
function routeGradient(mask: Tensor, g: Tensor, a: Tensor, b: Tensor): (Tensor | null)[] {
  const zero = full([], 0, g.dtype, g.backend);
  const part = (operand: Tensor, first: Tensor, second: Tensor) => {
    if (!operand.requiresGrad) return null;
    const selected = whereRaw(mask, first, second);
    const reduced = sumToShape(selected, operand.shape);
    selected.dispose();
    return reduced;
  };
  const grads = [part(a, g, zero), part(b, zero, g)];
  zero.dispose();
  return grads;
}

function selectByComparison(op: "maximum" | "minimum", a: Tensor, b: Tensor): Tensor {
  const out = binaryForward(op === "maximum" ? "max" : "min", a, b);
  if (needsGrad(a, b)) {
    record(out, op, [a, b], (g) => {
      // The gradient goes to a where a wins (ties included), to b elsewhere, as PyTorch does for max/min.
      const aWins = raw(op === "maximum" ? "lt" : "gt", b, a);
      const tie = raw("eq", a, b);
      const aMask = raw("max", aWins, tie);
      const grads = routeGradient(aMask, g, a, b);
      for (const t of [aWins, tie, aMask]) t.dispose();
      return grads;
    });
  }
  return out;
}

export const maximum = (a: Tensor, b: Tensor): Tensor => selectByComparison("maximum", a, b);
export const minimum = (a: Tensor, b: Tensor): Tensor => selectByComparison("minimum", a, b);

/** 1 where a == b, else 0 (float). No gradient. */
export const equal = (a: Tensor, b: Tensor): Tensor => binaryForward("eq", a, b);
export const greater = (a: Tensor, b: Tensor): Tensor => binaryForward("gt", a, b);
export const less = (a: Tensor, b: Tensor): Tensor => binaryForward("lt", a, b);

function whereRaw(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes("where", broadcastShapes("where", cond.shape, a.shape), b.shape);
  const out = empty(shape, a.dtype, a.backend);
  a.backend.where(
    cond.data as FloatArray | Int32Array,
    broadcastStrides(cond.shape, shape),
    a.floats,
    broadcastStrides(a.shape, shape),
    b.floats,
    broadcastStrides(b.shape, shape),
    out.floats,
    shape,
  );
  return out;
}

/** cond != 0 ? a : b, broadcasting all three. cond may be int32 (a mask) or float. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  requireFloat("where", a, b);
  requireSameBackend("where", cond, a, b);
  requireSameFloatType("where", a, b);
  const out = whereRaw(cond, a, b);
  if (needsGrad(a, b)) {
    record(out, "where", [a, b], (g) => routeGradient(cond, g, a, b));
  }
  return out;
}

/** x with value written wherever mask != 0 (mask broadcasts against x). */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  const filler = full([], value, x.dtype, x.backend);
  const out = where(mask, filler, x);
  return out;
}

/** Element type conversion (no gradient through int32). */
export function cast(x: Tensor, dtype: "float32" | "float64" | "int32"): Tensor {
  const out = zeros(x.shape, dtype, x.backend);
  if (dtype === "int32") {
    const src = x.data;
    const dst = out.data;
    for (let i = 0; i < x.size; i++) dst[i] = Math.trunc(src[i]);
  } else {
    out.data.set(x.data.subarray(0, x.size));
  }
  if (dtype !== "int32" && x.dtype !== "int32" && needsGrad(x)) {
    record(out, "cast", [x], (g) => [cast(g, x.dtype as "float32" | "float64")]);
  }
  return out;
}

export function toFloat(x: Tensor): Tensor {
  return cast(x, "float32");
}

/** Checks that every element is finite; throws a typed error naming what was being computed. */
export function assertFinite(x: Tensor, what: string): void {
  const data = x.data;
  for (let i = 0; i < x.size; i++) {
    if (!Number.isFinite(data[i])) {
      throw new NonFiniteError(
        what,
        `found ${data[i]} at element ${i} of ${shapeString(x.shape)}: lower the learning rate, clip gradients, or check the inputs for NaN`,
      );
    }
  }
}
