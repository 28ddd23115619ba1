// What every model's forward pass takes, and the derived pieces they share: position ids after a past
// (prefix or cache), and the additive key bias from an attention mask.

import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";

/** Keys and values of earlier positions for one layer: [batch, kvHeads, past, headDim] each. */
export interface LayerPast {
  key: Tensor;
  value: Tensor;
}

/** What incremental decoding needs of a key/value cache (T.KVCache). */
export interface DecodingCache {
  /** Number of positions cached. */
  readonly length: number;
  /**
   * Appends [batch, kvHeads, t, headDim] keys and values of one layer; returns the layer's key/value buffers
   * and how many of their positions are used (attention's keyLength).
   */
  append(layer: number, key: Tensor, value: Tensor): T.CachedKeys;
}

export interface ModelInputs {
  /** int32 [batch, seq]. Either this or inputsEmbeds. */
  inputIds?: Tensor;
  /** [batch, seq, hidden] embeddings used instead of looking up inputIds (prompt tuning feeds these). */
  inputsEmbeds?: Tensor;
  /**
   * int32 [batch, past + seq]: 1 for real tokens, 0 for padding. Covers past positions too (all ones for a
   * prefix). Defaults to all ones.
   */
  attentionMask?: Tensor;
  /** int32 [batch, seq]; BERT segment ids, default 0. */
  tokenTypeIds?: Tensor;
  /** int32 [batch, seq]; defaults to past .. past + seq - 1. */
  positionIds?: Tensor;
  /** Per layer, keys/values placed before the sequence's own (prefix tuning's past_key_values). */
  past?: readonly LayerPast[];
  /** Incremental decoding: appended to and attended over; overrides `past`. */
  cache?: DecodingCache;
  /**
   * Causal LMs: compute logits for the last N positions only (HF's logits_to_keep). Generation needs just
   * the last one, and the vocabulary projection of a whole prompt is a large share of prefill time and memory.
   */
  logitsToKeep?: number;
}

export function batchAndSeq(inputs: ModelInputs): [number, number] {
  const source = inputs.inputIds ?? inputs.inputsEmbeds;
  if (!source) throw new T.ShapeError("model forward", "needs inputIds or inputsEmbeds");
  return [source.shape[0], source.shape[1]];
}

/** Number of positions before the current sequence (cache or prefix). */
export function pastLength(inputs: ModelInputs): number {
  if (inputs.cache) return inputs.cache.length;
  return inputs.past?.[0]?.key.shape[2] ?? 0;
}

/** position ids [batch, seq] = offset + past + (0 .. seq - 1), unless given. */
export function positionIds(inputs: ModelInputs, offset = 0): Tensor {
  if (inputs.positionIds) return inputs.positionIds;
  const [batch, seq] = batchAndSeq(inputs);
  const past = pastLength(inputs);
  const values = new Array<number>(batch * seq);
  for (let b = 0; b < batch; b++) for (let t = 0; t < seq; t++) values[b * seq + t] = offset + past + t;
  return T.tensor(values, [batch, seq], "int32");
}

/** Additive key bias [batch, past + seq] from the attention mask, or null when nothing is masked. */
export function keyBias(inputs: ModelInputs, dtype: "float32" | "float64" = "float32"): Tensor | null {
  const mask = inputs.attentionMask;
  if (!mask) return null;
  const [batch, seq] = batchAndSeq(inputs);
  const expected = pastLength(inputs) + seq;
  if (mask.rank !== 2 || mask.shape[0] !== batch || mask.shape[1] !== expected) {
    throw new T.ShapeError(
      "model forward",
      `attention mask ${T.shapeString(mask.shape)} must be [batch, past + seq] = [${batch}, ${expected}]`,
    );
  }
  const m = mask.ints;
  let any = false;
  for (let i = 0; i < mask.size; i++) if (m[i] === 0) any = true;
  return any ? T.paddingBias(mask, dtype) : null;
}

/**
 * True when layer `layer` attends only the keys of this forward pass (no KV cache, no prefix keys): its
 * projections can then be attended as token rows (attention layout "tokens"), with no heads permuted.
 */
export function attendsOwnKeysOnly(inputs: ModelInputs, layer: number): boolean {
  return !inputs.cache && !inputs.past?.[layer];
}

/**
 * Keys/values of layer `layer` after adding the new ones: through the cache, after the prefix, or as is.
 * Pass `length` to attention as keyLength (a cache's buffers are longer than what is used).
 */
export function keysAndValues(inputs: ModelInputs, layer: number, key: Tensor, value: Tensor): T.CachedKeys {
  if (inputs.cache) return inputs.cache.append(layer, key, value);
  const past = inputs.past?.[layer];
  if (!past) return { key, value, length: key.shape[2] };
  const prefixed = T.withPrefix(past.key, key);
  return { key: prefixed, value: T.withPrefix(past.value, value), length: prefixed.shape[2] };
}

/** hidden [batch, seq, d] restricted to the positions whose logits are wanted (see ModelInputs.logitsToKeep). */
export function positionsForLogits(hidden: Tensor, inputs: ModelInputs): Tensor {
  const keep = inputs.logitsToKeep;
  const seq = hidden.shape[1];
  if (keep === undefined || keep >= seq) return hidden;
  if (!Number.isInteger(keep) || keep < 1) {
    throw new T.ShapeError("model forward", `logitsToKeep must be a positive integer, got ${keep}`);
  }
  return T.slice(hidden, 1, seq - keep, seq);
}
