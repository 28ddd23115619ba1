// Layout ops: reshape (a view), permute/transpose, slice, concat, stack, expand. Everything but reshape
// copies through the backend's strided copy, so every tensor stays contiguous.

import { needsGrad, record } from "../autograd.js";
import { IndexRangeError, ShapeError, shapeString } from "../errors.js";
import { empty, sizeOf, type Tensor, viewOf, zeros } from "../tensor.js";
import { broadcastShapes, broadcastStrides, contiguousStrides, sumToShape } from "./broadcast.js";
import { requireSameBackend } from "./elementwise.js";
import { normalizeAxis } from "./reduce.js";
import { fewRows, markLiveRows } from "./sparse-rows.js";

/** Same elements, new shape (one -1 is inferred). Shares the buffer. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const inferred = [...shape];
  const unknown = inferred.indexOf(-1);
  if (unknown !== inferred.lastIndexOf(-1))
    throw new ShapeError("reshape", `only one -1 allowed in ${shapeString(shape)}`);
  if (unknown >= 0) {
    const known = inferred.reduce((p, d, i) => (i === unknown ? p : p * d), 1);
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError(
        "reshape",
        `cannot infer -1 in ${shapeString(shape)} for ${x.size} elements of ${shapeString(x.shape)}`,
      );
    }
    inferred[unknown] = x.size / known;
  }
  const size = inferred.reduce((p, d) => p * d, 1);
  if (size !== x.size || inferred.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError(
      "reshape",
      `cannot reshape ${shapeString(x.shape)} (${x.size} elements) to ${shapeString(shape)}`,
    );
  }
  const out = viewOf(x, inferred);
  if (needsGrad(x)) record(out, "reshape", [x], (g) => [viewOf(g, x.shape)]);
  return out;
}

/** Inserts a size-1 axis at position axis. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = axis < 0 ? axis + x.rank + 1 : axis;
  if (a < 0 || a > x.rank)
    throw new IndexRangeError("unsqueeze", `axis ${axis} out of range for rank ${x.rank}`);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

/** Removes a size-1 axis. */
export function squeeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis("squeeze", axis, x.rank);
  if (x.shape[a] !== 1)
    throw new ShapeError("squeeze", `axis ${axis} of ${shapeString(x.shape)} has size ${x.shape[a]}, not 1`);
  return reshape(
    x,
    x.shape.filter((_, i) => i !== a),
  );
}

/** Reorders axes: out.shape[i] = x.shape[perm[i]]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new ShapeError(
      "permute",
      `${JSON.stringify(perm)} is not a permutation of the ${x.rank} axes of ${shapeString(x.shape)}`,
    );
  }
  const shape = perm.map((p) => x.shape[p]);
  // Moving only size-1 axes keeps the element order (heads split at a decoding step: [b, 1, h, d] ->
  // [b, h, 1, d]): a view, no copy.
  const sized = perm.filter((p) => x.shape[p] !== 1);
  if (sized.every((p, i) => i === 0 || p > sized[i - 1])) return reshape(x, shape);
  const strides = contiguousStrides(x.shape);
  const out = empty(shape, x.dtype, x.backend);
  x.backend.copyStrided(
    x.data,
    0,
    perm.map((p) => strides[p]),
    out.data,
    0,
    contiguousStrides(shape),
    shape,
  );
  if (needsGrad(x)) {
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => {
      inverse[p] = i;
    });
    record(out, "permute", [x], (g) => [permute(g, inverse)]);
  }
  return out;
}

/** Swaps two axes. */
export function transpose(x: Tensor, axis0 = -2, axis1 = -1): Tensor {
  const a = normalizeAxis("transpose", axis0, x.rank);
  const b = normalizeAxis("transpose", axis1, x.rank);
  const perm = [...Array(x.rank).keys()];
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/** Elements start <= i < end along axis (negative bounds count from the end). */
export function slice(
  x: Tensor,
  axis: number,
  start: number,
  end: number = x.shape[normalizeAxis("slice", axis, x.rank)],
): Tensor {
  const a = normalizeAxis("slice", axis, x.rank);
  const dim = x.shape[a];
  const s = start < 0 ? start + dim : start;
  const e = end < 0 ? end + dim : end;
  if (s < 0 || e > dim || s > e) {
    throw new IndexRangeError(
      "slice",
      `range [${start}, ${end}) is outside axis ${axis} of size ${dim} in ${shapeString(x.shape)}`,
    );
  }
  const shape = [...x.shape];
  shape[a] = e - s;
  const strides = contiguousStrides(x.shape);
  const out = empty(shape, x.dtype, x.backend);
  x.backend.copyStrided(x.data, s * strides[a], strides, out.data, 0, contiguousStrides(shape), shape);
  if (needsGrad(x)) {
    record(out, "slice", [x], (g) => {
      const dx = zeros(x.shape, x.dtype, x.backend);
      x.backend.copyStrided(g.data, 0, contiguousStrides(shape), dx.data, s * strides[a], strides, shape);
      if (a < x.rank - 1) markSlicedRows(dx, a, s, e);
      return [dx];
    });
  }
  return out;
}

/**
 * Marks the rows (of the last axis) of a slice's gradient dx that indices [s, e) of a non-last axis cover
 * (sparse-rows.ts): a classifier's slice of one position makes the gradient below it zero elsewhere.
 */
function markSlicedRows(dx: Tensor, axis: number, s: number, e: number): void {
  const dim = dx.shape[axis];
  if (!fewRows(e - s, dim)) return;
  const inner = sizeOf(dx.shape.slice(axis + 1, -1));
  const outer = sizeOf(dx.shape.slice(0, axis));
  const ids = new Int32Array(outer * (e - s) * inner);
  let n = 0;
  for (let o = 0; o < outer; o++)
    for (let i = s; i < e; i++) for (let r = 0; r < inner; r++) ids[n++] = (o * dim + i) * inner + r;
  markLiveRows(dx, dx.shape[dx.rank - 1], ids);
}

/** Joins tensors along an existing axis; all other axes must match. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new ShapeError("concat", "needs at least one tensor");
  requireSameBackend("concat", ...xs);
  const first = xs[0];
  const a = normalizeAxis("concat", axis, first.rank);
  for (const t of xs) {
    if (
      t.rank !== first.rank ||
      t.dtype !== first.dtype ||
      t.shape.some((d, i) => i !== a && d !== first.shape[i])
    ) {
      throw new ShapeError(
        "concat",
        `cannot join ${xs.map((u) => `${shapeString(u.shape)} ${u.dtype}`).join(", ")} along axis ${axis}: other axes and dtypes must match`,
      );
    }
  }
  const shape = [...first.shape];
  shape[a] = xs.reduce((total, t) => total + t.shape[a], 0);
  const out = empty(shape, first.dtype, first.backend);
  const outStrides = contiguousStrides(shape);
  const offsets: number[] = [];
  let offset = 0;
  for (const t of xs) {
    offsets.push(offset);
    first.backend.copyStrided(
      t.data,
      0,
      contiguousStrides(t.shape),
      out.data,
      offset * outStrides[a],
      outStrides,
      t.shape,
    );
    offset += t.shape[a];
  }
  if (needsGrad(...xs)) {
    record(out, "concat", xs, (g) =>
      xs.map((t, i) => (t.requiresGrad ? slice(g, a, offsets[i], offsets[i] + t.shape[a]) : null)),
    );
  }
  return out;
}

/** Joins tensors of one shape along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ShapeError("stack", "needs at least one tensor");
  const a = axis < 0 ? axis + xs[0].rank + 1 : axis;
  return concat(
    xs.map((t) => unsqueeze(t, a)),
    a,
  );
}

/** Materialises x broadcast to shape (a copy); the gradient sums back. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const target = broadcastShapes("expand", x.shape, shape);
  if (target.length !== shape.length || target.some((d, i) => d !== shape[i])) {
    throw new ShapeError("expand", `cannot expand ${shapeString(x.shape)} to ${shapeString(shape)}`);
  }
  const out = empty(shape, x.dtype, x.backend);
  x.backend.copyStrided(
    x.data,
    0,
    broadcastStrides(x.shape, shape),
    out.data,
    0,
    contiguousStrides(shape),
    shape,
  );
  if (needsGrad(x)) record(out, "expand", [x], (g) => [sumToShape(g, x.shape)]);
  return out;
}
