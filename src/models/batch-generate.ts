// Batched generation for causal LMs: several prompts of different lengths at once (left padding, with an
// attention mask and per-row position ids, as transformers generates with padding_side="left"), and `n`
// samples per prompt that share one prefill of the prompt (its cache rows are repeated after the prefill).
//
// Equivalences the tests hold this to:
//   - sample j of a prompt draws from Rng(seed + j), so `n` samples equal `n` one-by-one generations with seeds
//     seed, seed + 1, ... (the convention of lm/language-model.ts generateSamples);
//   - a padded row gives the tokens and logits of the same prompt generated alone: padded keys are masked with
//     the finite float32 minimum (as transformers does), so they get exactly zero attention weight, and real
//     tokens keep positions 0, 1, ... whatever the padding;
//   - cached decoding equals recomputing the whole sequence at every step (`useCache: false`).
// Rows that finish (EOS, stop) are dropped from the batch, so the remaining rows cost no more than alone.

import type { FloatArray } from "../backend/backend.js";
import { AdaptlmError } from "../errors.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";
import {
  type CausalLM,
  chooseTokens,
  type GenerateOptions,
  type GenerateResult,
  lastPositionRows,
  type StepChoices,
} from "./generate.js";
import type { ModelInputs } from "./model-inputs.js";

export interface TokenAlternative {
  token: number;
  logprob: number;
}

export interface TokenEvent {
  /** Index of the prompt in the batch. */
  prompt: number;
  /** Sample index within the prompt (0 .. n - 1). */
  sample: number;
  token: number;
  logprob: number;
  /** Number of tokens this sample has generated, this one included. */
  step: number;
}

export interface BatchGenerateOptions extends Omit<GenerateOptions, "onToken" | "shouldStop"> {
  /** Samples per prompt, sharing the prompt's prefill (default 1). */
  n?: number;
  /** Id written into padding slots (masked out, so any valid id; default 0). */
  padTokenId?: number;
  /** Also return the k most likely tokens at each step with their logprobs (default 0 = none). */
  topLogprobs?: number;
  /** Stop a sample when this returns true for its tokens so far (e.g. a stop string in the decoded text). */
  shouldStop?: (prompt: number, sample: number, tokens: readonly number[]) => boolean;
  /** Called for every generated token, in step order (all rows of a step before the next step). */
  onToken?: (event: TokenEvent) => void;
}

export interface SampleResult extends GenerateResult {
  /** Per generated token, the most likely alternatives (when topLogprobs > 0). */
  topLogprobs: TokenAlternative[][];
}

/** log-softmax of one row, in float64. Indexed loops: iterator and callback forms cost ~10x on a vocab row. */
export function logSoftmaxRow(logits: Float32Array): Float64Array {
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

/** The k largest entries of a row (largest first, lower index first on ties). */
export function topEntries(logprobs: Float64Array, k: number): TokenAlternative[] {
  return topEntriesShifted(logprobs, 0, logprobs.length, 0, k);
}

/** topEntries of the log-softmax row logits[offset .. offset + n) - lse, without materialising the row. */
function topEntriesShifted(
  logits: FloatArray,
  offset: number,
  n: number,
  lse: number,
  k: number,
): TokenAlternative[] {
  const best: TokenAlternative[] = [];
  for (let i = 0; i < n; i++) {
    const value = logits[offset + i] - lse;
    if (best.length === k && value <= best[k - 1].logprob) continue;
    let at = best.length;
    while (at > 0 && best[at - 1].logprob < value) at--;
    best.splice(at, 0, { token: i, logprob: value });
    if (best.length > k) best.pop();
  }
  return best;
}

/** One decoding step's choices for the active rows, with what the options ask to keep of the logits. */
interface StepOutcome extends StepChoices {
  topLogprobs: TokenAlternative[][] | null;
  stepLogits: Float32Array[] | null;
}

interface Row {
  prompt: number;
  sample: number;
  rng: T.Rng;
  result: SampleResult;
  /** Position id of the next token. */
  nextPosition: number;
}

/**
 * Generates for every prompt `n` samples. Returns results[prompt][sample]. Each prompt needs at least one
 * token (e.g. BOS); prompt length + maxNewTokens must fit the model's positions.
 */
export function generateBatch(
  model: CausalLM,
  prompts: readonly (readonly number[])[],
  options: BatchGenerateOptions,
): SampleResult[][] {
  const steps = generateBatchSteps(model, prompts, options);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/**
 * generateBatch that yields to the event loop after every decoding step, so a server can stream tokens and
 * accept other requests while it generates.
 */
export async function generateBatchAsync(
  model: CausalLM,
  prompts: readonly (readonly number[])[],
  options: BatchGenerateOptions,
): Promise<SampleResult[][]> {
  const steps = generateBatchSteps(model, prompts, options);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The generation loop, one yield per decoding step; the return value is results[prompt][sample]. */
export function* generateBatchSteps(
  model: CausalLM,
  prompts: readonly (readonly number[])[],
  options: BatchGenerateOptions,
): Generator<void, SampleResult[][], void> {
  const n = options.n ?? 1;
  if (!Number.isInteger(n) || n < 1)
    throw new AdaptlmError("BAD_GENERATE_OPTIONS", `n must be a positive integer, got ${n}`);
  if (prompts.length === 0) return [];
  const longest = Math.max(...prompts.map((p) => p.length));
  prompts.forEach((prompt, i) => {
    if (prompt.length === 0) {
      throw new AdaptlmError(
        "EMPTY_PROMPT",
        `prompt ${i} is empty: generation needs at least one token (e.g. BOS)`,
      );
    }
    if (prompt.length + options.maxNewTokens > model.config.maxPositions) {
      throw new AdaptlmError(
        "CONTEXT_TOO_LONG",
        `prompt ${i} (${prompt.length} tokens) + maxNewTokens (${options.maxNewTokens}) exceeds the model's ${model.config.maxPositions} positions`,
      );
    }
  });
  const pad = options.padTokenId ?? 0;
  const useCache = options.useCache ?? true;
  const topK = options.topLogprobs ?? 0;
  const seed = options.seed ?? 0;
  const sampling: GenerateOptions = { maxNewTokens: options.maxNewTokens };
  if (options.temperature !== undefined) sampling.temperature = options.temperature;
  if (options.topK !== undefined) sampling.topK = options.topK;
  if (options.topP !== undefined) sampling.topP = options.topP;
  // Left-padded prompt ids and mask, per prompt; generated tokens are appended to each row's copy.
  const paddedPrompts = prompts.map((p) => [...new Array<number>(longest - p.length).fill(pad), ...p]);
  const promptMasks = prompts.map((p) => [
    ...new Array<number>(longest - p.length).fill(0),
    ...p.map(() => 1),
  ]);
  const results: SampleResult[][] = prompts.map(() => []);
  const rows: Row[] = [];
  for (let p = 0; p < prompts.length; p++) {
    for (let s = 0; s < n; s++) {
      const result: SampleResult = {
        tokens: [],
        logprobs: [],
        stepLogits: [],
        finishReason: "length",
        topLogprobs: [],
      };
      results[p].push(result);
      rows.push({ prompt: p, sample: s, rng: new T.Rng(seed + s), result, nextPosition: prompts[p].length });
    }
  }
  if (options.maxNewTokens <= 0) return results;
  const padded = prompts.some((p) => p.length !== longest);
  const cache = useCache ? new T.KVCache(model.config.numLayers, longest + options.maxNewTokens) : null;
  const keepLogits = options.keepLogits ?? false;
  // The weights stay fixed for this generation: every step's products reuse one packed copy of each.
  const packs = new T.PackedWeights();
  /** Chooses the next tokens of `active` from logits [active.length, vocab] (read before the step's scope ends). */
  const decide = (output: Tensor, logits: FloatArray, active: readonly Row[]): StepOutcome => {
    const vocab = output.shape[2];
    const rngs = active.map((row) => row.rng);
    const choices = chooseTokens(output.backend, logits, vocab, sampling, rngs);
    return {
      ...choices,
      topLogprobs:
        topK > 0
          ? active.map((_, r) => topEntriesShifted(logits, r * vocab, vocab, choices.lse[r], topK))
          : null,
      stepLogits: keepLogits
        ? active.map((_, r) => Float32Array.from(logits.subarray(r * vocab, (r + 1) * vocab)))
        : null,
    };
  };
  try {
    // Prefill: one row per prompt; then every prompt's rows are repeated for its samples.
    let active: Row[] = rows;
    let outcome = T.scope(() =>
      forwardStep(packs, () => {
        const inputs = batchInputs(paddedPrompts, promptMasks, padded, cache);
        const output = model.forward({ ...inputs, logitsToKeep: 1 });
        const logits = lastPositionRows(output);
        return decide(output, n > 1 ? repeatRows(logits, output.shape[2], rows) : logits, active);
      }),
    );
    // One prompt's samples share its prefill: stored once, read once per step. Several prompts' rows are
    // repeated instead (their padding differs, and attention takes one set of shared keys).
    if (n > 1 && prompts.length === 1) cache?.shareRows(n);
    else if (n > 1) cache?.selectRows(rows.map((row) => row.prompt));
    for (let step = 0; ; step++) {
      const keep: number[] = [];
      for (let r = 0; r < active.length; r++) {
        const row = active[r];
        const token = outcome.tokens[r];
        const logprob = outcome.logprobs[r];
        const { result } = row;
        result.tokens.push(token);
        result.logprobs.push(logprob);
        if (outcome.topLogprobs) result.topLogprobs.push(outcome.topLogprobs[r]);
        if (outcome.stepLogits) result.stepLogits.push(outcome.stepLogits[r]);
        options.onToken?.({
          prompt: row.prompt,
          sample: row.sample,
          token,
          logprob,
          step: result.tokens.length,
        });
        if (options.eosTokenIds?.includes(token)) {
          result.finishReason = "eos";
        } else if (options.shouldStop?.(row.prompt, row.sample, result.tokens)) {
          result.finishReason = "stop";
        } else if (step + 1 < options.maxNewTokens) {
          keep.push(r);
        }
      }
      if (keep.length === 0) break;
      yield;
      if (keep.length < active.length) {
        cache?.selectRows(keep);
        active = keep.map((r) => active[r]);
      }
      const stepRows = active;
      outcome = T.scope(() =>
        forwardStep(packs, () => {
          const inputs = cache
            ? decodeInputs(stepRows, promptMasks, padded, cache)
            : batchInputs(
                stepRows.map((row) => [...paddedPrompts[row.prompt], ...row.result.tokens]),
                stepRows.map((row) => [...promptMasks[row.prompt], ...row.result.tokens.map(() => 1)]),
                padded,
                null,
              );
          const output = model.forward({ ...inputs, logitsToKeep: 1 });
          return decide(output, lastPositionRows(output), stepRows);
        }),
      );
      for (const row of active) row.nextPosition++;
    }
  } finally {
    cache?.dispose();
  }
  return results;
}

/** One forward pass of the loop: no gradients, products through the generation's packed weights. */
function forwardStep<R>(packs: T.PackedWeights, fn: () => R): R {
  return T.noGrad(() => T.usePackedWeights(packs, fn));
}

/** Logits [prompts, vocab] repeated to one row per generation row (row i takes its prompt's row). */
function repeatRows(logits: FloatArray, vocab: number, rows: readonly Row[]): Float32Array {
  const out = new Float32Array(rows.length * vocab);
  rows.forEach((row, i) => {
    out.set(logits.subarray(row.prompt * vocab, (row.prompt + 1) * vocab), i * vocab);
  });
  return out;
}

/** Inputs for full sequences (prefill, or the uncached path): ids, mask (when padded) and position ids. */
function batchInputs(
  ids: readonly (readonly number[])[],
  masks: readonly (readonly number[])[],
  padded: boolean,
  cache: T.KVCache | null,
): ModelInputs {
  const batch = ids.length;
  const seq = ids[0].length;
  const inputs: ModelInputs = { inputIds: T.tensor(ids.flat(), [batch, seq], "int32") };
  if (cache) inputs.cache = cache;
  if (padded) {
    inputs.attentionMask = T.tensor(masks.flat(), [batch, seq], "int32");
    // Real tokens count 0, 1, ... from their first real token; padding slots get 0 (they are never attended to).
    const positions: number[] = [];
    for (const mask of masks) {
      let count = 0;
      for (const m of mask) {
        positions.push(m === 1 ? count : 0);
        count += m;
      }
    }
    inputs.positionIds = T.tensor(positions, [batch, seq], "int32");
  }
  return inputs;
}

/** Inputs of one decoding step: each active row's last token at its own next position, mask over the cache. */
function decodeInputs(
  active: readonly Row[],
  promptMasks: readonly (readonly number[])[],
  padded: boolean,
  cache: T.KVCache,
): ModelInputs {
  const batch = active.length;
  const lastTokens = active.map((row) => row.result.tokens[row.result.tokens.length - 1]);
  const inputs: ModelInputs = { inputIds: T.tensor(lastTokens, [batch, 1], "int32"), cache };
  if (padded) {
    const past = cache.length;
    const mask: number[] = [];
    for (const row of active) {
      const promptMask = promptMasks[row.prompt];
      for (let t = 0; t <= past; t++) mask.push(t < promptMask.length ? promptMask[t] : 1);
    }
    inputs.attentionMask = T.tensor(mask, [batch, past + 1], "int32");
    inputs.positionIds = T.tensor(
      active.map((row) => row.nextPosition),
      [batch, 1],
      "int32",
    );
  }
  return inputs;
}
