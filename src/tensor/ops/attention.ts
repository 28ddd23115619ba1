// Scaled dot-product attention as one fused op (scores, masks, softmax, weighted values), with grouped-query
// heads, causal masking relative to the end of the keys, padding masks, extra key/value prefixes (prefix
// tuning) and a KV cache for generation.

import { needsGrad, record } from "../autograd.js";
import { DTypeError, ShapeError, shapeString } from "../errors.js";
import type { Tensor } from "../tensor.js";
import { zeros } from "../tensor.js";
import { requireFloat, requireSameBackend } from "./elementwise.js";
import { concat } from "./shape.js";

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
}

/**
 * q [batch, heads, tq, headDim], k and v [batch, kvHeads, tk, headDim] -> [batch, heads, tq, headDim].
 * heads must be a multiple of kvHeads (grouped-query attention).
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  requireFloat("attention", q, k, v);
  requireSameBackend("attention", q, k, v);
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) {
    throw new ShapeError(
      "attention",
      `expects 4-D q, k, v [batch, heads, seq, headDim], got ${shapeString(q.shape)}, ${shapeString(k.shape)}, ${shapeString(v.shape)}`,
    );
  }
  const [batch, heads, tq, headDim] = q.shape;
  const [kb, kvHeads, kvStride, kd] = k.shape;
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
      `incompatible q ${shapeString(q.shape)}, k ${shapeString(k.shape)}, v ${shapeString(v.shape)}: batch and headDim must match, k and v must have one shape, heads must be a multiple of kv heads`,
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
  const scale = options.scale ?? 1 / Math.sqrt(headDim);
  const backend = q.backend;
  const out = zeros(q.shape, q.dtype, backend);
  const probs = zeros([batch, heads, tq, tk], q.dtype, backend);
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
  });
  if (needsGrad(q, k, v)) {
    record(out, "attention", [q, k, v], (g) => {
      const dq = zeros(q.shape, q.dtype, backend);
      const dk = zeros(k.shape, k.dtype, backend);
      const dv = zeros(v.shape, v.dtype, backend);
      backend.attentionBackward({
        batch,
        heads,
        kvHeads,
        tq,
        tk,
        headDim,
        scale,
        q: q.floats,
        k: k.floats,
        v: v.floats,
        probs: probs.floats,
        dOut: g.floats,
        dq: dq.floats,
        dk: dk.floats,
        dv: dv.floats,
      });
      return [dq, dk, dv];
    });
  } else {
    probs.dispose();
  }
  return out;
}

/**
 * Puts prefix keys/values [batch, kvHeads, p, headDim] in front of k/v (prefix tuning's past_key_values),
 * so every query sees them. The key bias must then cover p + tk keys.
 */
export function withPrefix(prefix: Tensor, kv: Tensor): Tensor {
  return concat([prefix, kv], 2);
}
