// Scaled dot-product attention as one fused op (scores, masks, softmax, weighted values), with grouped-query
// heads, causal masking relative to the end of the keys, padding masks, extra key/value prefixes (prefix
// tuning), a KV cache for generation and keys shared by every row (one prompt's prefill for its samples).

import type { AttentionLayout } from "../../backend/backend.js";
import { needsGrad, record } from "../autograd.js";
import { DTypeError, ShapeError, shapeString } from "../errors.js";
import type { Tensor } from "../tensor.js";
import { empty, zeros } from "../tensor.js";
import { requireFloat, requireSameBackend } from "./elementwise.js";
import { concat, expand, reshape, slice } from "./shape.js";
import { fewRows, gatherLiveRows, liveRows, markLiveRows, scatterLiveRows } from "./sparse-rows.js";

export type { AttentionLayout };

export interface AttentionOptions {
  /** Queries see only keys at or before their own position (queries sit at the end of the keys). */
  causal?: boolean;
  /** Additive key bias [batch, tk] (see paddingBias), covering prefix keys too when a prefix is given. */
  keyBias?: Tensor | null;
  /** Defaults to 1 / sqrt(headDim). */
  scale?: number;
  /**
   * Inference only: attend over the first keyLength positions of k and v (a KV cache's buffers, whose third
   * axis is the allocated capacity). Defaults to all of them.
   */
  keyLength?: number;
  /**
   * Sliding-window attention (Mistral, Qwen2), with causal: a query at position p sees only keys at
   * positions p - window + 1 .. p. 0 or absent: no window.
   */
  window?: number;
  /**
   * Inference only: keys and values [1, kvHeads, s, headDim] that every batch row attends before its own k/v
   * (a prompt prefilled once for several samples: its keys are read once per step, not once per row). They
   * count as the first s key positions (a key bias covers the row's own keys only; a window counts the shared
   * ones too): the causal mask lets every query see them.
   */
  shared?: { key: Tensor; value: Tensor } | null;
  /**
   * "heads" (default): q [batch, heads, tq, headDim], k and v [batch, kvHeads, tk, headDim], the result
   * [batch, heads, tq, headDim]. "tokens": q [batch, tq, heads, headDim], k and v [batch, tk, kvHeads, headDim],
   * the result [batch, tq, heads, headDim]: a projection's output reshaped, attended without permuting its
   * heads (and the result reshaped back to [batch, tq, hidden]). Not with keyLength or shared keys.
   */
  layout?: AttentionLayout;
}

/**
 * q [batch, heads, tq, headDim], k and v [batch, kvHeads, tk, headDim] -> [batch, heads, tq, headDim]
 * (axes 1 and 2 swapped for each with layout "tokens").
 * heads must be a multiple of kvHeads (grouped-query attention).
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  requireFloat("attention", q, k, v);
  requireSameBackend("attention", q, k, v);
  const layout = options.layout ?? "heads";
  if (layout !== "heads" && layout !== "tokens") {
    throw new ShapeError("attention", `layout must be "heads" or "tokens", got ${String(layout)}`);
  }
  const axes = layout === "tokens" ? "[batch, seq, heads, headDim]" : "[batch, heads, seq, headDim]";
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) {
    throw new ShapeError(
      "attention",
      `expects 4-D q, k, v ${axes}, got ${shapeString(q.shape)}, ${shapeString(k.shape)}, ${shapeString(v.shape)}`,
    );
  }
  if (layout === "tokens" && (options.keyLength !== undefined || options.shared)) {
    throw new ShapeError("attention", 'layout "tokens" takes no keyLength or shared keys');
  }
  // [batch, heads, seq, headDim] sizes whatever the layout
  const dims = (t: Tensor) =>
    layout === "tokens" ? [t.shape[0], t.shape[2], t.shape[1], t.shape[3]] : t.shape;
  const [batch, heads, tq, headDim] = dims(q);
  const [kb, kvHeads, kvStride, kd] = dims(k);
  const tk = options.keyLength ?? kvStride;
  if (!Number.isInteger(tk) || tk < 0 || tk > kvStride) {
    throw new ShapeError("attention", `keyLength ${tk} must be an integer in [0, ${kvStride}]`);
  }
  if (tk !== kvStride && needsGrad(q, k, v)) {
    throw new ShapeError(
      "attention",
      "keyLength (attending a KV cache in place) is for inference only, under noGrad",
    );
  }
  if (kb !== batch || kd !== headDim || v.shape.some((d, i) => d !== k.shape[i]) || heads % kvHeads !== 0) {
    throw new ShapeError(
      "attention",
      `incompatible q ${shapeString(q.shape)}, k ${shapeString(k.shape)}, v ${shapeString(v.shape)} (${axes}): batch and headDim must match, k and v must have one shape, heads must be a multiple of kv heads`,
    );
  }
  const keyBias = options.keyBias ?? null;
  if (keyBias) {
    if (keyBias.dtype !== q.dtype)
      throw new DTypeError("attention", `key bias is ${keyBias.dtype} but q is ${q.dtype}`);
    if (keyBias.size !== batch * tk) {
      throw new ShapeError(
        "attention",
        `key bias ${shapeString(keyBias.shape)} must be [batch, tk] = [${batch}, ${tk}]`,
      );
    }
  }
  const causal = options.causal ?? false;
  const window = options.window ?? 0;
  if (!Number.isInteger(window) || window < 0 || (window > 0 && !causal)) {
    throw new ShapeError(
      "attention",
      `window ${window} must be a non-negative integer, and needs causal attention`,
    );
  }
  const shared = options.shared ?? null;
  if (shared) checkShared(shared, q, k, kvHeads, headDim);
  if (shared && (keyBias || window > 0)) {
    // The kernels read shared keys only without a key bias or window: spell the keys out for these.
    const spelled = (sharedPart: Tensor, own: Tensor) =>
      concat([expand(sharedPart, [batch, ...sharedPart.shape.slice(1)]), slice(own, 2, 0, tk)], 2);
    const sharedLength = shared.key.shape[2];
    const bias = keyBias
      ? concat(
          [zeros([batch, sharedLength], keyBias.dtype, keyBias.backend), reshape(keyBias, [batch, tk])],
          1,
        )
      : null;
    return attention(q, spelled(shared.key, k), spelled(shared.value, v), {
      ...options,
      shared: null,
      keyLength: undefined,
      keyBias: bias,
    });
  }
  const sharedLength = shared ? shared.key.shape[2] : 0;
  const scale = options.scale ?? 1 / Math.sqrt(headDim);
  const backend = q.backend;
  // every kernel writes all of out and probs, and all of dq, dk and dv below: no clearing
  const out = empty(q.shape, q.dtype, backend);
  const probs = empty([batch, heads, tq, sharedLength + tk], q.dtype, backend);
  backend.attention({
    batch,
    heads,
    kvHeads,
    tq,
    tk,
    headDim,
    scale,
    causal,
    causalOffset: tk - tq,
    q: q.floats,
    k: k.floats,
    v: v.floats,
    keyBias: keyBias ? keyBias.floats : null,
    out: out.floats,
    probs: probs.floats,
    kvStride,
    window,
    shared: shared ? { k: shared.key.floats, v: shared.value.floats, length: sharedLength } : null,
    layout,
  });
  if (needsGrad(q, k, v)) {
    record(out, "attention", [q, k, v], (g) => {
      const dk = empty(k.shape, k.dtype, backend);
      const dv = empty(v.shape, v.dtype, backend);
      // Queries whose output gradient is zero add nothing to any gradient (sparse-rows.ts): with few live
      // ones (a classifier's [CLS]), the pass runs on those query rows of q, probs and dOut only.
      const live = liveQueries(g, layout, heads, tq, headDim);
      const rowCols = layout === "tokens" ? heads * headDim : headDim;
      const qRows = live ? queryRows(live, layout, batch, heads, tq) : null;
      const probRows = live ? queryRows(live, "heads", batch, heads, tq) : null;
      const rows = (t: Tensor, ids: Int32Array | null, cols: number) =>
        ids ? gatherLiveRows(t, ids, cols) : t;
      const ql = rows(q, qRows, rowCols);
      const gl = rows(g, qRows, rowCols);
      const pl = rows(probs, probRows, tk);
      const dql = empty(live ? [ql.size] : q.shape, q.dtype, backend);
      backend.attentionBackward({
        batch,
        heads,
        kvHeads,
        tq: live ? live.length : tq,
        tk,
        headDim,
        scale,
        q: ql.floats,
        k: k.floats,
        v: v.floats,
        probs: pl.floats,
        dOut: gl.floats,
        dq: dql.floats,
        dk: dk.floats,
        dv: dv.floats,
        layout,
      });
      if (!qRows) return [dql, dk, dv];
      const dq = zeros(q.shape, q.dtype, backend);
      scatterLiveRows(dql, qRows, dq, rowCols);
      markLiveRows(dq, rowCols, qRows);
      for (const t of [ql, gl, pl, dql]) t.dispose();
      return [dq, dk, dv];
    });
  } else {
    probs.dispose();
  }
  return out;
}

/**
 * The query positions whose output gradient g holds a value in some batch row and head, when they are few
 * (fewRows); null otherwise.
 */
function liveQueries(
  g: Tensor,
  layout: AttentionLayout,
  heads: number,
  tq: number,
  headDim: number,
): Int32Array | null {
  const ids = liveRows(g, layout === "tokens" ? heads * headDim : headDim);
  if (!ids) return null;
  const seen = new Uint8Array(tq);
  for (const id of ids) seen[id % tq] = 1;
  const positions: number[] = [];
  for (let i = 0; i < tq; i++) if (seen[i]) positions.push(i);
  return fewRows(positions.length, tq) ? Int32Array.from(positions) : null;
}

/**
 * Row indices of the query positions `live` in an operand laid out as q (rows of heads * headDim per position
 * with "tokens", of headDim per head and position with "heads"; probs are laid out as "heads" with rows of
 * keys), batch row by batch row (and head by head): the compact operand is [batch, (heads,) live, ...].
 */
function queryRows(
  live: Int32Array,
  layout: AttentionLayout,
  batch: number,
  heads: number,
  tq: number,
): Int32Array {
  const blocks = layout === "tokens" ? batch : batch * heads;
  const ids = new Int32Array(blocks * live.length);
  for (let b = 0; b < blocks; b++)
    for (let j = 0; j < live.length; j++) ids[b * live.length + j] = b * tq + live[j];
  return ids;
}

function checkShared(
  shared: { key: Tensor; value: Tensor },
  q: Tensor,
  k: Tensor,
  kvHeads: number,
  headDim: number,
): void {
  const { key, value } = shared;
  requireFloat("attention", key, value);
  requireSameBackend("attention", q, key, value);
  if (needsGrad(q, k, key, value)) {
    throw new ShapeError("attention", "shared keys are for inference only, under noGrad");
  }
  const expected = [1, kvHeads, key.shape[2], headDim];
  if (
    key.rank !== 4 ||
    expected.some((d, i) => key.shape[i] !== d || value.shape[i] !== d) ||
    value.rank !== 4
  ) {
    throw new ShapeError(
      "attention",
      `shared keys ${shapeString(key.shape)} and values ${shapeString(value.shape)} must both be [1, kvHeads, s, headDim] = [1, ${kvHeads}, s, ${headDim}]`,
    );
  }
  if (key.dtype !== q.dtype || value.dtype !== q.dtype)
    throw new DTypeError("attention", `shared keys are ${key.dtype} but q is ${q.dtype}`);
}

/**
 * Puts prefix keys/values [batch, kvHeads, p, headDim] in front of k/v (prefix tuning's past_key_values),
 * so every query sees them. The key bias must then cover p + tk keys.
 */
export function withPrefix(prefix: Tensor, kv: Tensor): Tensor {
  return concat([prefix, kv], 2);
}
