// Autoregressive generation for causal LMs: greedy or sampled (temperature, top-k, top-p, seeded), with a
// KV cache so each new token costs one position's forward pass instead of the whole sequence.

import { AdaptlmError } from "../errors.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";
import type { ModelInputs } from "./model-inputs.js";

/** What generation needs of a model: next-token logits [batch, seq, vocab] for inputs, and its depth. */
export interface CausalLM {
  forward(inputs: ModelInputs): Tensor;
  readonly config: { numLayers: number; vocabSize: number; maxPositions: number };
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 (default) decodes greedily: argmax, first index on ties. */
  temperature?: number;
  /** Keep only the k most likely tokens before sampling (0 = all). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 = all). */
  topP?: number;
  seed?: number;
  /** Stop after generating any of these ids (the id is kept in the output). */
  eosTokenIds?: readonly number[];
  /** Stop when this returns true for the tokens generated so far. */
  shouldStop?: (tokens: readonly number[]) => boolean;
  /** false recomputes the whole sequence at every step (the reference behaviour; slow). */
  useCache?: boolean;
  /** Keep each step's next-token logits in the result. */
  keepLogits?: boolean;
  onToken?: (token: number, logprob: number) => void;
}

export interface GenerateResult {
  tokens: number[];
  /** log p(token) under the unmodified distribution (temperature 1, no truncation). */
  logprobs: number[];
  stepLogits: Float32Array[];
  finishReason: "length" | "eos" | "stop";
}

/** log-softmax of one row, in float64. Indexed loops: iterator and callback forms cost ~10x on a vocab row. */
function logSoftmaxRow(logits: Float32Array): Float64Array {
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = logits[i] - lse;
  return out;
}

/** Picks the next token from one row of logits. */
export function chooseToken(logits: Float32Array, options: GenerateOptions, rng: T.Rng): number {
  const temperature = options.temperature ?? 0;
  const n = logits.length;
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const tempered = new Float32Array(n);
  for (let i = 0; i < n; i++) tempered[i] = logits[i] / temperature;
  const scaled = logSoftmaxRow(tempered);
  const topK = options.topK ?? 0;
  const topP = options.topP ?? 1;
  if (topK <= 0 && topP >= 1) {
    // No truncation: draw by inverse CDF in id order, which needs no sort of the vocabulary (the sort cost
    // more than a decoding step of a small model).
    let r = rng.next();
    for (let i = 0; i < n; i++) {
      r -= Math.exp(scaled[i] as number);
      if (r <= 0) return i;
    }
    return n - 1;
  }
  // Candidates in decreasing probability (ties: lower id first, as a stable sort keeps them).
  let order: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scaled[b] - scaled[a] || a - b);
  if (topK > 0) order = order.slice(0, topK);
  if (topP < 1) {
    let mass = 0;
    let kept = 0;
    while (kept < order.length) {
      mass += Math.exp(scaled[order[kept++] as number]);
      if (mass >= topP) break;
    }
    order = order.slice(0, kept);
  }
  const weights = new Float64Array(order.length);
  let total = 0;
  for (let j = 0; j < order.length; j++) {
    weights[j] = Math.exp(scaled[order[j] as number]);
    total += weights[j];
  }
  let r = rng.next() * total;
  for (let j = 0; j < order.length; j++) {
    r -= weights[j];
    if (r <= 0) return order[j] as number;
  }
  return order[order.length - 1] as number;
}

/** The last position's logits of a [1, seq, vocab] output, as a fresh array. */
function lastLogits(logits: Tensor): Float32Array {
  const [, seq, vocab] = logits.shape;
  return Float32Array.from(logits.data.subarray((seq - 1) * vocab, seq * vocab));
}

/** Generates up to maxNewTokens after promptIds (batch of one). */
export function generate(
  model: CausalLM,
  promptIds: readonly number[],
  options: GenerateOptions,
): GenerateResult {
  if (promptIds.length === 0)
    throw new AdaptlmError("EMPTY_PROMPT", "generate needs at least one prompt token (e.g. BOS)");
  if (promptIds.length + options.maxNewTokens > model.config.maxPositions) {
    throw new AdaptlmError(
      "CONTEXT_TOO_LONG",
      `prompt (${promptIds.length} tokens) + maxNewTokens (${options.maxNewTokens}) exceeds the model's ${model.config.maxPositions} positions`,
    );
  }
  const rng = new T.Rng(options.seed ?? 0);
  const useCache = options.useCache ?? true;
  const cache = useCache
    ? new T.KVCache(model.config.numLayers, promptIds.length + options.maxNewTokens)
    : null;
  const sequence = [...promptIds];
  const result: GenerateResult = { tokens: [], logprobs: [], stepLogits: [], finishReason: "length" };
  try {
    let pending = [...promptIds];
    for (let step = 0; step < options.maxNewTokens; step++) {
      const logits = T.scope(() =>
        T.noGrad(() => {
          const ids = useCache ? pending : sequence;
          const inputIds = T.tensor(ids, [1, ids.length], "int32");
          return lastLogits(
            model.forward(cache ? { inputIds, cache, logitsToKeep: 1 } : { inputIds, logitsToKeep: 1 }),
          );
        }),
      );
      const token = chooseToken(logits, options, rng);
      const logprob = logSoftmaxRow(logits)[token];
      result.tokens.push(token);
      result.logprobs.push(logprob);
      if (options.keepLogits) result.stepLogits.push(logits);
      options.onToken?.(token, logprob);
      sequence.push(token);
      pending = [token];
      if (options.eosTokenIds?.includes(token)) {
        result.finishReason = "eos";
        break;
      }
      if (options.shouldStop?.(result.tokens)) {
        result.finishReason = "stop";
        break;
      }
    }
  } finally {
    cache?.dispose();
  }
  return result;
}
