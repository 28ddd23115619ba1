// Autoregressive generation for causal LMs: greedy or sampled (temperature, top-k, top-p, seeded), with a
// KV cache so each new token costs one position's forward pass instead of the whole sequence.

import type { Backend, FloatArray } from "../backend/backend.js";
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

/**
 * Picks the next token from one row of logits, in JavaScript: the definition chooseTokens' kernel follows
 * (which it uses itself only for top-k / top-p).
 */
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

/** The next token of every row of a decoding step, and its log-probability. */
export interface StepChoices {
  tokens: Int32Array;
  /** log p(token) under the unmodified distribution (temperature 1, no truncation), in float64. */
  logprobs: Float64Array;
  /** logsumexp of each row's logits: log p(i) = logits[i] - lse (top logprobs). */
  lse: Float64Array;
}

/**
 * The last position's logits of every row of a [rows, seq, vocab] output as one [rows, vocab] array: a view of
 * the tensor's data when seq is 1 (logitsToKeep), valid while the tensor lives; else a copy.
 */
export function lastPositionRows(logits: Tensor): FloatArray {
  const [rows, seq, vocab] = logits.shape;
  const data = logits.data as FloatArray;
  if (seq === 1) return data.subarray(0, rows * vocab);
  const out = data instanceof Float64Array ? new Float64Array(rows * vocab) : new Float32Array(rows * vocab);
  for (let r = 0; r < rows; r++) {
    const start = (r * seq + seq - 1) * vocab;
    out.set(data.subarray(start, start + vocab), r * vocab);
  }
  return out;
}

/**
 * Chooses the next token of every row of logits [rows, vocab] as chooseToken would row by row with rngs[r],
 * in one backend kernel over the whole batch (sampleRows: logsumexp, then argmax or a temperature draw by
 * inverse CDF), plus each chosen token's logprob. Sampling draws rngs[r].next() once per row, greedy draws
 * nothing: the random stream is chooseToken's, so a seed gives the same tokens. Top-k / top-p still sort in
 * JavaScript (chooseToken) and take only the logsumexp from the kernel.
 */
export function chooseTokens(
  backend: Backend,
  logits: FloatArray,
  vocab: number,
  options: GenerateOptions,
  rngs: readonly T.Rng[],
): StepChoices {
  const rows = rngs.length;
  const temperature = options.temperature ?? 0;
  const truncated = (options.topK ?? 0) > 0 || (options.topP ?? 1) < 1;
  const drawInKernel = temperature > 0 && !truncated;
  const uniforms = new Float64Array(drawInKernel ? rows : 0);
  if (drawInKernel) for (let r = 0; r < rows; r++) uniforms[r] = rngs[r].next();
  const tokens = new Int32Array(rows);
  const lse = new Float64Array(rows);
  backend.sampleRows({
    logits,
    rows,
    cols: vocab,
    temperature: drawInKernel ? temperature : 0,
    uniforms,
    tokens,
    lse,
  });
  if (temperature > 0 && truncated) {
    for (let r = 0; r < rows; r++) {
      const row = logits.subarray(r * vocab, (r + 1) * vocab) as Float32Array;
      tokens[r] = chooseToken(row, options, rngs[r]);
    }
  }
  const logprobs = new Float64Array(rows);
  for (let r = 0; r < rows; r++) logprobs[r] = logits[r * vocab + tokens[r]] - lse[r];
  return { tokens, logprobs, lse };
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
  const rngs = [new T.Rng(options.seed ?? 0)];
  const useCache = options.useCache ?? true;
  const cache = useCache
    ? new T.KVCache(model.config.numLayers, promptIds.length + options.maxNewTokens)
    : null;
  const sequence = [...promptIds];
  const result: GenerateResult = { tokens: [], logprobs: [], stepLogits: [], finishReason: "length" };
  try {
    let pending = [...promptIds];
    for (let step = 0; step < options.maxNewTokens; step++) {
      const { token, logprob, logits } = T.scope(() =>
        T.noGrad(() => {
          const ids = useCache ? pending : sequence;
          const inputIds = T.tensor(ids, [1, ids.length], "int32");
          const output = model.forward(
            cache ? { inputIds, cache, logitsToKeep: 1 } : { inputIds, logitsToKeep: 1 },
          );
          const rowLogits = lastPositionRows(output);
          const choice = chooseTokens(output.backend, rowLogits, output.shape[2], options, rngs);
          return {
            token: choice.tokens[0],
            logprob: choice.logprobs[0],
            logits: options.keepLogits ? Float32Array.from(rowLogits) : null,
          };
        }),
      );
      result.tokens.push(token);
      result.logprobs.push(logprob);
      if (logits) result.stepLogits.push(logits);
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
