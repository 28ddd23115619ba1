// Broadcasting rules (NumPy's): shapes align at the right; a size-1 axis stretches. Strides of 0 let the
// kernels read a stretched operand without copying it.

import { ShapeError, shapeString } from "../errors.js";
import { noGrad } from "../grad-mode.js";
import { empty, type Tensor, viewOf } from "../tensor.js";

export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        op,
        `shapes ${shapeString(a)} and ${shapeString(b)} do not broadcast (axis ${i} of the result: ${da} vs ${db}); reshape one operand so each axis matches or is 1`,
      );
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Row-major strides of a contiguous tensor of this shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** Strides reading a contiguous tensor of `shape` as if it had the (broadcast) shape `target`. */
export function broadcastStrides(shape: readonly number[], target: readonly number[]): number[] {
  const own = contiguousStrides(shape);
  const offset = target.length - shape.length;
  return target.map((_, i) => {
    const axis = i - offset;
    return axis < 0 || shape[axis] === 1 ? 0 : own[axis];
  });
}

/**
 * Sums a gradient of the broadcast shape back to the shape of the operand that was broadcast. Returns a
 * new tensor (a view when nothing needs summing).
 */
export function sumToShape(grad: Tensor, shape: readonly number[]): Tensor {
  return noGrad(() => {
    const offset = grad.shape.length - shape.length;
    const sameShape = offset === 0 && shape.every((d, i) => d === grad.shape[i]);
    if (sameShape) return viewOf(grad, shape);
    let current = grad;
    let currentShape = [...grad.shape];
    // Reduce one axis at a time, from the last, keeping the reduced axis as size 1.
    for (let axis = currentShape.length - 1; axis >= 0; axis--) {
      const target = axis < offset ? 1 : shape[axis - offset];
      if (currentShape[axis] === target) continue;
      const outer = currentShape.slice(0, axis).reduce((x, y) => x * y, 1);
      const inner = currentShape.slice(axis + 1).reduce((x, y) => x * y, 1);
      const nextShape = [...currentShape];
      nextShape[axis] = 1;
      const next = empty(nextShape, grad.dtype, grad.backend);
      grad.backend.reduce("sum", current.floats, next.floats, outer, currentShape[axis], inner);
      if (current !== grad) current.dispose();
      current = next;
      currentShape = nextShape;
    }
    const result = viewOf(current, shape);
    if (current !== grad) current.dispose();
    return result;
  });
}
