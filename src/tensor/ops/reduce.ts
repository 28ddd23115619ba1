// Reductions over axes: sum, mean, max (with argmax).

import { needsGrad, record } from "../autograd.js";
import { IndexRangeError, ShapeError, shapeString } from "../errors.js";
import { noGrad } from "../grad-mode.js";
import { empty, type Tensor, viewOf, zeros } from "../tensor.js";
import { broadcastStrides } from "./broadcast.js";
import { mulScalar, requireFloat } from "./elementwise.js";

export function normalizeAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1)) {
    throw new IndexRangeError(op, `axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return a;
}

function normalizeAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === "number" ? [axes] : [...axes];
  const normalized = [...new Set(list.map((a) => normalizeAxis(op, a, rank)))];
  return normalized.sort((x, y) => x - y);
}

function product(values: readonly number[]): number {
  return values.reduce((x, y) => x * y, 1);
}

/** Broadcasts g (shape with reduced axes kept as 1) back to shape by copying. */
export function expandTo(g: Tensor, shape: readonly number[]): Tensor {
  const out = empty(shape, g.dtype, g.backend);
  g.backend.copyStrided(
    g.data,
    0,
    broadcastStrides(g.shape, shape),
    out.data,
    0,
    broadcastStrides(shape, shape),
    shape,
  );
  return out;
}

/** Sum over the given axes (all when omitted). keepDims keeps them as size 1. */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  requireFloat("sum", x);
  const reduced = normalizeAxes("sum", axes, x.rank);
  const keptShape = x.shape.map((d, i) => (reduced.includes(i) ? 1 : d));
  let current = x;
  let currentShape = [...x.shape];
  noGrad(() => {
    for (let k = reduced.length - 1; k >= 0; k--) {
      const axis = reduced[k];
      const nextShape = [...currentShape];
      nextShape[axis] = 1;
      const next = empty(nextShape, x.dtype, x.backend);
      x.backend.reduce(
        "sum",
        current.floats,
        next.floats,
        product(currentShape.slice(0, axis)),
        currentShape[axis],
        product(currentShape.slice(axis + 1)),
      );
      if (current !== x) current.dispose();
      current = next;
      currentShape = nextShape;
    }
  });
  const finalShape = keepDims ? keptShape : x.shape.filter((_, i) => !reduced.includes(i));
  const out = current === x ? viewOf(x, finalShape) : viewOf(current, finalShape);
  if (current !== x) current.dispose();
  if (needsGrad(x)) {
    record(out, "sum", [x], (g) => {
      const kept = viewOf(g, keptShape);
      const expanded = expandTo(kept, x.shape);
      kept.dispose();
      return [expanded];
    });
  }
  return out;
}

export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const reduced = normalizeAxes("mean", axes, x.rank);
  const count = product(reduced.map((a) => x.shape[a]));
  const total = sum(x, axes, keepDims);
  return mulScalar(total, 1 / count);
}

/** Maximum over one axis; the gradient goes to the first maximal element, as with torch.max(dim). */
export function max(x: Tensor, axis: number, keepDims = false): Tensor {
  requireFloat("max", x);
  const a = normalizeAxis("max", axis, x.rank);
  if (x.shape[a] === 0)
    throw new ShapeError("max", `cannot take the max over an empty axis of ${shapeString(x.shape)}`);
  const outer = product(x.shape.slice(0, a));
  const size = x.shape[a];
  const inner = product(x.shape.slice(a + 1));
  const keptShape = x.shape.map((d, i) => (i === a ? 1 : d));
  const out = empty(keepDims ? keptShape : x.shape.filter((_, i) => i !== a), x.dtype, x.backend);
  x.backend.reduce("max", x.floats, out.floats, outer, size, inner);
  if (needsGrad(x)) {
    const indices = empty([outer * inner], "int32", x.backend);
    x.backend.argmax(x.floats, indices.ints, outer, size, inner);
    record(out, "max", [x], (g) => {
      const dx = zeros(x.shape, x.dtype, x.backend);
      const gd = g.floats;
      const dd = dx.floats;
      const idx = indices.ints;
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < inner; j++) dd[(o * size + idx[o * inner + j]) * inner + j] = gd[o * inner + j];
      }
      return [dx];
    });
  }
  return out;
}

/** Index of the maximum along one axis (int32, no gradient). */
export function argmax(x: Tensor, axis: number, keepDims = false): Tensor {
  requireFloat("argmax", x);
  const a = normalizeAxis("argmax", axis, x.rank);
  const outer = product(x.shape.slice(0, a));
  const inner = product(x.shape.slice(a + 1));
  const shape = keepDims ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a);
  const out = empty(shape, "int32", x.backend);
  x.backend.argmax(x.floats, out.ints, outer, x.shape[a], inner);
  return out;
}
