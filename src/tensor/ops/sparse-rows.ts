// Gradients that are zero outside a few rows. A classifier reads one position of the last layer (BERT's
// [CLS] through slice, a decoder's last token), so the gradient reaching that layer is zero in every other
// row, and so are the gradients the row-wise ops below it pass on (norms, activations, linear layers) until
// attention mixes the positions again. Their backward passes find the rows that hold a value (a scan that
// gives up after a few hundred rows on dense gradients), compute on those rows only and scatter the result
// into zeros: the same values as the dense computation, since the skipped rows add exact zeros to every sum
// (tiny BERT classifier, 2 layers: about two fifths of the backward pass's multiply-adds). One difference: a
// NaN or infinity in a skipped row of the other operand (an activation the loss does not depend on) would
// turn the dense weight gradient into NaN; here it is left out, as the true gradient leaves it out.

import { empty, type Tensor, zeros } from "../tensor.js";

/** At most this share of the rows may hold values for the row-wise path to be taken. */
const MAX_SHARE = 0.25;

/** Whether `count` live rows of `rows` are few enough for the row-wise path. */
export function fewRows(count: number, rows: number): boolean {
  return count <= Math.floor(rows * MAX_SHARE);
}

let enabled = true;

/**
 * Gradients this module (or slice) produced as zeros with a few rows written, and those rows: their
 * consumer needs no scan. Only tensors nothing else writes into are marked; autograd forgets (or widens) a
 * mark when it adds into a pending gradient in place, and linear does when it adds into its `into` target.
 */
const marks = new WeakMap<Tensor, { cols: number; ids: Int32Array }>();

/** Records that t, viewed as [rows, cols], is zero outside rows `ids` (ascending). */
export function markLiveRows(t: Tensor, cols: number, ids: Int32Array): void {
  marks.set(t, { cols, ids });
}

export function forgetLiveRows(t: Tensor): void {
  marks.delete(t);
}

/** After rows `ids` (of width cols) were added into t in place: t's mark widens to them, or goes. */
export function widenLiveRows(t: Tensor, cols: number, ids: Int32Array): void {
  const mark = marks.get(t);
  if (!mark) return;
  if (mark.cols !== cols) {
    marks.delete(t);
    return;
  }
  const union = new Set<number>(mark.ids);
  for (const id of ids) union.add(id);
  marks.set(t, { cols, ids: Int32Array.from([...union].sort((x, y) => x - y)) });
}

/** After t += u in place (autograd summing two gradients of one tensor). */
export function addedInto(t: Tensor, u: Tensor): void {
  const mark = marks.get(u);
  if (mark) widenLiveRows(t, mark.cols, mark.ids);
  else marks.delete(t);
}

/**
 * Turns the row-wise backward paths on or off (default on); returns the previous setting. Off, every
 * backward pass computes on all rows, as PyTorch does (benchmarks measure both; tests compare them).
 */
export function setSparseRowGradients(on: boolean): boolean {
  const previous = enabled;
  enabled = on;
  return previous;
}

/**
 * The rows of g viewed as [rows, cols] that hold a value other than zero, when there are some and they are at
 * most a quarter of the rows (and the paths are enabled); null when the dense computation should run.
 */
export function liveRows(g: Tensor, cols: number): Int32Array | null {
  if (!enabled || cols <= 0) return null;
  const rows = g.size / cols;
  if (rows < 4) return null;
  const limit = Math.floor(rows * MAX_SHARE);
  const mark = marks.get(g);
  if (mark && mark.cols === cols)
    return mark.ids.length > 0 && fewRows(mark.ids.length, rows) ? mark.ids : null;
  const out = new Int32Array(Math.min(rows, limit + 1));
  const count = g.backend.nonzeroRows(g.floats, rows, cols, limit, out);
  // an all-zero gradient (rare) takes the dense path too: kernels then never see zero rows
  return count > limit || count === 0 ? null : out.subarray(0, count);
}

/** x [rows, cols] -> its rows `ids` [ids.length, cols]. */
export function gatherLiveRows(x: Tensor, ids: Int32Array, cols: number): Tensor {
  const out = empty([ids.length, cols], x.dtype, x.backend);
  if (ids.length > 0) x.backend.gatherRows(x.floats, ids, out.floats, cols);
  return out;
}

/** target [rows, cols] rows ids[i] += compact[i]. */
export function scatterLiveRows(compact: Tensor, ids: Int32Array, target: Tensor, cols: number): void {
  if (ids.length > 0) target.backend.scatterAddRows(compact.floats, ids, target.floats, cols, -1);
}

/**
 * A row-wise backward kernel (a norm's, an activation's) run on the live rows of g only: kernel(gRows,
 * xRows, savedRows, n, dxRows) computes dx for n rows from those rows of g, x and of each saved tensor (row
 * aligned with x: a norm's per-row statistics, an activation's output). Returns dx, shaped as x and zero
 * outside the live rows; without few live rows the kernel runs on the whole tensors.
 */
export function onLiveRows(
  g: Tensor,
  x: Tensor,
  cols: number,
  saved: readonly Tensor[],
  kernel: (g: Tensor, x: Tensor, saved: readonly Tensor[], rows: number, dx: Tensor) => void,
): Tensor {
  const rows = x.size / cols;
  const live = liveRows(g, cols);
  if (!live) {
    const dx = empty(x.shape, x.dtype, x.backend);
    kernel(g, x, saved, rows, dx);
    return dx;
  }
  const gl = gatherLiveRows(g, live, cols);
  const xl = gatherLiveRows(x, live, cols);
  const sl = saved.map((s) => gatherLiveRows(s, live, s.size / rows));
  const dxl = empty([live.length, cols], x.dtype, x.backend);
  kernel(gl, xl, sl, live.length, dxl);
  const dx = zeros(x.shape, x.dtype, x.backend);
  scatterLiveRows(dxl, live, dx, cols);
  markLiveRows(dx, cols, live);
  for (const t of [gl, xl, ...sl, dxl]) t.dispose();
  return dx;
}
