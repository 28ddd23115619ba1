// Log-likelihood scoring of continuations, lm-evaluation-harness style: log P(continuation | prompt) is the
// sum over continuation tokens of log softmax(logits at the previous position)[token]. All continuations of a
// prompt go through the model in one forward pass: rows prompt + continuation_i, right-padded. Right padding
// needs no mask in a causal model (no real position attends to a later one), so each row's numbers equal the
// row alone.

import { AdaptlmError } from "../errors.js";
import * as T from "../tensor/index.js";
import { logSoftmaxRow, topEntries } from "./batch-generate.js";
import type { CausalLM } from "./generate.js";

export interface ContinuationScore {
  /** Sum of the continuation tokens' logprobs. */
  logprob: number;
  tokenLogprobs: number[];
  /** Every continuation token is the argmax at its position (greedy decoding would produce it). */
  isGreedy: boolean;
}

/** Scores each continuation after promptIds (which needs at least one token, e.g. BOS) in one forward pass. */
export function scoreContinuations(
  model: CausalLM,
  promptIds: readonly number[],
  continuations: readonly (readonly number[])[],
): ContinuationScore[] {
  if (promptIds.length === 0) {
    throw new AdaptlmError(
      "EMPTY_PROMPT",
      "scoring needs at least one prompt token (e.g. BOS): the first continuation token is predicted from it",
    );
  }
  if (continuations.length === 0) return [];
  const longest = Math.max(...continuations.map((c) => c.length));
  if (longest === 0) return continuations.map(() => ({ logprob: 0, tokenLogprobs: [], isGreedy: true }));
  const seq = promptIds.length + longest;
  if (seq > model.config.maxPositions) {
    throw new AdaptlmError(
      "CONTEXT_TOO_LONG",
      `prompt (${promptIds.length} tokens) + continuation (${longest} tokens) exceeds the model's ${model.config.maxPositions} positions`,
    );
  }
  const batch = continuations.length;
  const ids: number[] = [];
  for (const continuation of continuations) {
    ids.push(...promptIds, ...continuation, ...new Array<number>(longest - continuation.length).fill(0));
  }
  return T.scope(() =>
    T.noGrad(() => {
      const logits = model.forward({ inputIds: T.tensor(ids, [batch, seq], "int32") }); // [batch, seq, vocab]
      const vocab = logits.shape[2];
      const data = logits.data;
      return continuations.map((continuation, b) => {
        const tokenLogprobs: number[] = [];
        let isGreedy = true;
        continuation.forEach((token, t) => {
          const position = promptIds.length - 1 + t;
          const start = (b * seq + position) * vocab;
          const row = Float32Array.from(data.subarray(start, start + vocab));
          tokenLogprobs.push(logSoftmaxRow(row)[token]);
          let best = 0;
          for (let i = 1; i < vocab; i++) if (row[i] > row[best]) best = i;
          if (best !== token) isGreedy = false;
        });
        return { logprob: tokenLogprobs.reduce((a, v) => a + v, 0), tokenLogprobs, isGreedy };
      });
    }),
  );
}

export interface PositionLogprob {
  /** log P(token_t | tokens before t); null for the first token (nothing predicts it). */
  logprob: number | null;
  /** The k most likely tokens at this position (empty for the first token). */
  top: { token: number; logprob: number }[];
}

/** Per-token logprobs of a whole sequence (the `echo` of OpenAI-style completions), one forward pass. */
export function sequenceLogprobs(model: CausalLM, ids: readonly number[], topK = 0): PositionLogprob[] {
  if (ids.length === 0) return [];
  if (ids.length > model.config.maxPositions) {
    throw new AdaptlmError(
      "CONTEXT_TOO_LONG",
      `${ids.length} tokens exceed the model's ${model.config.maxPositions} positions`,
    );
  }
  return T.scope(() =>
    T.noGrad(() => {
      const logits = model.forward({ inputIds: T.tensor(ids, [1, ids.length], "int32") }); // [1, seq, vocab]
      const vocab = logits.shape[2];
      const out: PositionLogprob[] = [{ logprob: null, top: [] }];
      for (let t = 1; t < ids.length; t++) {
        const row = logSoftmaxRow(Float32Array.from(logits.data.subarray((t - 1) * vocab, t * vocab)));
        out.push({ logprob: row[ids[t]], top: topK > 0 ? topEntries(row, topK) : [] });
      }
      return out;
    }),
  );
}
