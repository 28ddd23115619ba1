// Matrix products: batched matmul with optional transposes and broadcast batch axes, and linear layers
// (x @ W^T + b for Hugging Face Linear weights [out, in], or x @ W + b for GPT-2 Conv1D weights [in, out]).

import type { FloatArray } from "../../backend/backend.js";
import { needsGrad, record } from "../autograd.js";
import { ShapeError, shapeString } from "../errors.js";
import { noGrad } from "../grad-mode.js";
import { activePackedWeights, PACKED_MAX_ROWS, PACKED_MIN_ROWS } from "../packed-weights.js";
import { empty, type Tensor, viewOf, zeros } from "../tensor.js";
import { broadcastShapes, sumToShape } from "./broadcast.js";
import { requireFloat, requireSameBackend, requireSameFloatType } from "./elementwise.js";
import { sum } from "./reduce.js";
import { expand, reshape } from "./shape.js";
import {
  forgetLiveRows,
  gatherLiveRows,
  liveRows,
  markLiveRows,
  scatterLiveRows,
  widenLiveRows,
} from "./sparse-rows.js";

export interface MatmulOptions {
  /** Use a's last two axes transposed: a is [..., k, m]. */
  transA?: boolean;
  /** Use b's last two axes transposed: b is [..., n, k]. */
  transB?: boolean;
}

interface GemmOperand {
  data: FloatArray;
  stride: number;
  trans: boolean;
}

function gemmInto(
  c: Tensor,
  batch: number,
  m: number,
  n: number,
  k: number,
  a: GemmOperand,
  b: GemmOperand,
  beta: number,
): void {
  c.backend.gemm({
    batch,
    m,
    n,
    k,
    a: a.data,
    aOffset: 0,
    strideA: a.stride,
    transA: a.trans,
    b: b.data,
    bOffset: 0,
    strideB: b.stride,
    transB: b.trans,
    c: c.floats,
    cOffset: 0,
    strideC: m * n,
    alpha: 1,
    beta,
  });
}

/**
 * op(a) @ op(b) over the last two axes, broadcasting the leading (batch) axes.
 * a: [..., m, k] (or [..., k, m] with transA), b: [..., k, n] (or [..., n, k] with transB) -> [..., m, n].
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  requireFloat("matmul", a, b);
  requireSameBackend("matmul", a, b);
  requireSameFloatType("matmul", a, b);
  if (a.rank < 2 || b.rank < 2) {
    throw new ShapeError(
      "matmul",
      `needs operands of rank >= 2, got ${shapeString(a.shape)} and ${shapeString(b.shape)}; unsqueeze vectors first`,
    );
  }
  const m = transA ? a.shape[a.rank - 1] : a.shape[a.rank - 2];
  const k = transA ? a.shape[a.rank - 2] : a.shape[a.rank - 1];
  const kb = transB ? b.shape[b.rank - 1] : b.shape[b.rank - 2];
  const n = transB ? b.shape[b.rank - 2] : b.shape[b.rank - 1];
  if (k !== kb) {
    throw new ShapeError(
      "matmul",
      `inner sizes differ: ${shapeString(a.shape)}${transA ? "^T" : ""} @ ${shapeString(b.shape)}${transB ? "^T" : ""} (${k} vs ${kb})`,
    );
  }
  const batchShape = broadcastShapes("matmul (batch axes)", a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = batchShape.reduce((p, d) => p * d, 1);
  // An operand whose batch axes are all 1 is read with stride 0; one that broadcasts partially is copied.
  const operand = (t: Tensor, trans: boolean): { tensor: Tensor; op: GemmOperand } => {
    const tBatch = t.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    const matrixSize = t.shape[t.rank - 1] * t.shape[t.rank - 2];
    if (tBatch === 1) return { tensor: t, op: { data: t.floats, stride: 0, trans } };
    if (tBatch === batch) return { tensor: t, op: { data: t.floats, stride: matrixSize, trans } };
    const expanded = noGrad(() => expand(t, [...batchShape, ...t.shape.slice(-2)]));
    return { tensor: expanded, op: { data: expanded.floats, stride: matrixSize, trans } };
  };
  const ea = operand(a, transA);
  const eb = operand(b, transB);
  const out = empty([...batchShape, m, n], a.dtype, a.backend);
  gemmInto(out, batch, m, n, k, ea.op, eb.op, 0);
  if (needsGrad(a, b)) {
    record(out, "matmul", [a, b], (g) => {
      const gOp = (trans: boolean): GemmOperand => ({ data: g.floats, stride: m * n, trans });
      let ga: Tensor | null = null;
      let gb: Tensor | null = null;
      if (a.requiresGrad) {
        // Gradient of op(A) is G op(B)^T; when A was used transposed, its own gradient is that transposed.
        const rows = transA ? k : m;
        const cols = transA ? m : k;
        const full = empty([...batchShape, rows, cols], a.dtype, a.backend);
        if (!transA) gemmInto(full, batch, m, k, n, gOp(false), { ...eb.op, trans: !transB }, 0);
        else gemmInto(full, batch, k, m, n, { ...eb.op, trans: transB }, gOp(true), 0);
        ga = sumToShape(full, a.shape);
        full.dispose();
      }
      if (b.requiresGrad) {
        const rows = transB ? n : k;
        const cols = transB ? k : n;
        const full = empty([...batchShape, rows, cols], b.dtype, b.backend);
        if (!transB) gemmInto(full, batch, k, n, m, { ...ea.op, trans: !transA }, gOp(false), 0);
        else gemmInto(full, batch, n, k, m, gOp(true), { ...ea.op, trans: transA }, 0);
        gb = sumToShape(full, b.shape);
        full.dispose();
      }
      return [ga, gb];
    });
  }
  if (ea.tensor !== a && !needsGrad(a, b)) ea.tensor.dispose();
  if (eb.tensor !== b && !needsGrad(a, b)) eb.tensor.dispose();
  return out;
}

/**
 * A dense layer on the last axis: x [..., in] -> [..., out].
 * weight is [out, in] (torch.nn.Linear) by default, or [in, out] with weightLayout "inOut" (GPT-2 Conv1D).
 * bias [out] is optional. The bias add and both gradients run as GEMMs on the flattened rows.
 */
export function linear(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  weightLayout: "outIn" | "inOut" = "outIn",
): Tensor {
  requireFloat("linear", x, weight);
  requireSameBackend("linear", x, weight);
  requireSameFloatType("linear", x, weight);
  if (weight.rank !== 2)
    throw new ShapeError("linear", `weight must be 2-D, got ${shapeString(weight.shape)}`);
  const inFeatures = weightLayout === "outIn" ? weight.shape[1] : weight.shape[0];
  const outFeatures = weightLayout === "outIn" ? weight.shape[0] : weight.shape[1];
  if (x.shape[x.rank - 1] !== inFeatures) {
    throw new ShapeError(
      "linear",
      `input ${shapeString(x.shape)} has ${x.shape[x.rank - 1]} features but weight ${shapeString(weight.shape)} (${weightLayout}) expects ${inFeatures}`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outFeatures)) {
    throw new ShapeError(
      "linear",
      `bias ${shapeString(bias.shape)} does not match ${outFeatures} output features`,
    );
  }
  const rows = x.size / inFeatures;
  const outShape = [...x.shape.slice(0, -1), outFeatures];
  const out = empty(outShape, x.dtype, x.backend);
  const backend = x.backend;
  const transW = weightLayout === "outIn";
  const grads = needsGrad(x, weight, bias);
  const packs = activePackedWeights();
  const packed =
    packs && !grads && rows >= PACKED_MIN_ROWS && rows <= PACKED_MAX_ROWS && x.dtype === "float32"
      ? packs.lookup(weight, outFeatures, inFeatures, transW)
      : null;
  if (packed && backend.gemmPacked) {
    if (bias) backend.copyStrided(bias.data, 0, [0, 1], out.data, 0, [outFeatures, 1], [rows, outFeatures]);
    backend.gemmPacked(rows, x.floats, 0, packed, out.floats, 0, bias ? 1 : 0);
    return out;
  }
  backend.gemm({
    batch: 1,
    m: rows,
    n: outFeatures,
    k: inFeatures,
    a: x.floats,
    aOffset: 0,
    strideA: 0,
    transA: false,
    b: weight.floats,
    bOffset: 0,
    strideB: 0,
    transB: transW,
    c: out.floats,
    cOffset: 0,
    strideC: 0,
    alpha: 1,
    beta: 0,
    bias: bias ? bias.floats : null,
  });
  if (grads) {
    const inputs = bias ? [x, weight, bias] : [x, weight];
    record(out, "linear", inputs, (g, into) => {
      const grads: (Tensor | null)[] = [null, null, null];
      // rows of G that hold values, when few (sparse-rows.ts): every product below runs on those rows only
      const live = liveRows(g, outFeatures);
      const gl = live ? gatherLiveRows(g, live, outFeatures) : g;
      const n = live ? live.length : rows;
      if (x.requiresGrad) {
        // dX [rows, in] = G [rows, out] @ W  (W as [out, in]), added into x's pending gradient when there is one
        const pending = into[0] && into[0].dtype === x.dtype ? into[0] : null;
        const dx = live
          ? empty([n, inFeatures], x.dtype, backend)
          : (pending ?? empty(x.shape, x.dtype, backend));
        backend.gemm({
          batch: 1,
          m: n,
          n: inFeatures,
          k: outFeatures,
          a: gl.floats,
          aOffset: 0,
          strideA: 0,
          transA: false,
          b: weight.floats,
          bOffset: 0,
          strideB: 0,
          transB: !transW,
          c: dx.floats,
          cOffset: 0,
          strideC: 0,
          alpha: 1,
          beta: pending && !live ? 1 : 0,
        });
        if (live) {
          const target = pending ?? zeros(x.shape, x.dtype, backend);
          scatterLiveRows(dx, live, target, inFeatures);
          dx.dispose();
          if (pending) widenLiveRows(pending, inFeatures, live);
          else markLiveRows(target, inFeatures, live);
          grads[0] = target;
        } else {
          if (pending) forgetLiveRows(pending);
          grads[0] = dx;
        }
      }
      if (weight.requiresGrad) {
        // dW [out, in] = G^T @ X, or [in, out] = X^T @ G for Conv1D, summed over the live rows.
        const xl = live ? gatherLiveRows(x, live, inFeatures) : x;
        const dw = empty(weight.shape, weight.dtype, backend);
        if (transW) {
          backend.gemm({
            batch: 1,
            m: outFeatures,
            n: inFeatures,
            k: n,
            a: gl.floats,
            aOffset: 0,
            strideA: 0,
            transA: true,
            b: xl.floats,
            bOffset: 0,
            strideB: 0,
            transB: false,
            c: dw.floats,
            cOffset: 0,
            strideC: 0,
            alpha: 1,
            beta: 0,
          });
        } else {
          backend.gemm({
            batch: 1,
            m: inFeatures,
            n: outFeatures,
            k: n,
            a: xl.floats,
            aOffset: 0,
            strideA: 0,
            transA: true,
            b: gl.floats,
            bOffset: 0,
            strideB: 0,
            transB: false,
            c: dw.floats,
            cOffset: 0,
            strideC: 0,
            alpha: 1,
            beta: 0,
          });
        }
        if (xl !== x) xl.dispose();
        grads[1] = dw;
      }
      if (bias?.requiresGrad) {
        const g2 = viewOf(gl, [n, outFeatures]);
        grads[2] = noGrad(() => sum(g2, 0));
        g2.dispose();
      }
      if (gl !== g) gl.dispose();
      return bias ? grads : grads.slice(0, 2);
    });
  }
  return out;
}

/** Flattens all but the last axis: [..., d] -> [rows, d]. */
export function flattenRows(x: Tensor): Tensor {
  return reshape(x, [-1, x.shape[x.rank - 1]]);
}
