import { AdaptlmError } from "../errors.js";

/** Shapes that do not fit the op: names the op, the shapes found, and what was expected. */
export class ShapeError extends AdaptlmError {
  constructor(op: string, message: string) {
    super("SHAPE_MISMATCH", `${op}: ${message}`);
  }
}

/** A tensor of the wrong element type for the op (e.g. float ids, int32 values). */
export class DTypeError extends AdaptlmError {
  constructor(op: string, message: string) {
    super("WRONG_DTYPE", `${op}: ${message}`);
  }
}

/** An index (token id, target, slice bound, axis) outside its range. */
export class IndexRangeError extends AdaptlmError {
  constructor(op: string, message: string) {
    super("INDEX_OUT_OF_RANGE", `${op}: ${message}`);
  }
}

/** NaN or infinity where a finite number is required (a loss, a gradient norm). */
export class NonFiniteError extends AdaptlmError {
  constructor(op: string, message: string) {
    super("NON_FINITE", `${op}: ${message}`);
  }
}

/** A tensor used after dispose() or after the scope that owned it ended. */
export class DisposedTensorError extends AdaptlmError {
  constructor(op: string) {
    super(
      "TENSOR_DISPOSED",
      `${op}: tensor was already disposed (its memory scope ended). Return it from the scope or call keep() on it to use it later.`,
    );
  }
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}
