// Text in, text out, over the token-level generator and scorer: encodes prompts, generates (batched, `n`
// samples sharing a prefill), decodes incrementally (DecodeStream, so SentencePiece spaces and multi-byte
// characters come out right), cuts at stop strings, and streams text that can no longer become part of a stop
// string. Used by the CLI, the local LanguageModel backend and the OpenAI-compatible server.

import { AdaptlmError } from "../errors.js";
import { DecodeStream } from "../tokenizers/decode-stream.js";
import type { PretrainedTokenizer } from "../tokenizers/tokenizer.js";
import {
  type BatchGenerateOptions,
  generateBatch,
  generateBatchAsync,
  type SampleResult,
  type TokenAlternative,
} from "./batch-generate.js";
import { eosTokenIds, type LoadedModel, requireTokenizer } from "./load-model.js";
import type { CausalLanguageModel } from "./registry.js";
import { scoreContinuations } from "./score.js";

export interface TextGenerationOptions {
  maxTokens: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** Samples per prompt (default 1). */
  n?: number;
  /** Generation stops at the first of these strings, which is not part of the text. */
  stop?: readonly string[];
  /** Top alternatives per generated token (0 = only the chosen token's logprob). */
  topLogprobs?: number;
  /** Streamed text of one sample: only text that no stop string can claim any more. */
  onText?: (prompt: number, sample: number, text: string) => void;
  /** Aborting ends every sample at the next step; the call then throws TextGenerationError GENERATION_ABORTED. */
  signal?: AbortSignal;
  /**
   * Let the tokenizer add its special tokens (BOS, ...) to the prompts. Default true; false for text rendered
   * by a chat template, which writes them itself (as transformers' apply_chat_template encodes).
   */
  addSpecialTokens?: boolean;
  /** Token ids that also end a sample, besides the model's EOS (e.g. a chat template's end-of-turn token). */
  extraEosTokenIds?: readonly number[];
}

export interface GeneratedToken {
  id: number;
  /** The text this token added (concatenating them gives the sample's text before any stop cut). */
  text: string;
  logprob: number;
  topLogprobs: { id: number; text: string; logprob: number }[];
}

export interface TextSample {
  text: string;
  /** Tokens generated (up to and including the one that completed a stop string or EOS). */
  tokens: GeneratedToken[];
  /** "eos": an end-of-sequence token; "stop": a stop string; "length": maxTokens reached. */
  finishReason: "eos" | "stop" | "length";
}

export interface TextGenerationResult {
  promptIds: number[][];
  /** samples[prompt][sample] */
  samples: TextSample[][];
}

/** Errors of text generation. Codes: MODEL_NOT_CAUSAL, GENERATION_ABORTED. */
export class TextGenerationError extends AdaptlmError {}

export function causalModel(loaded: LoadedModel): CausalLanguageModel {
  if (loaded.kind !== "causal-lm") {
    throw new TextGenerationError(
      "MODEL_NOT_CAUSAL",
      `${loaded.source.path} is a ${loaded.config.modelType} ${loaded.kind}, which does not generate text; ` +
        (loaded.kind === "masked-lm" ? "use fill-mask instead" : "use a causal LM (gpt2, llama, ...)"),
    );
  }
  return loaded.model as CausalLanguageModel;
}

/**
 * Token ids of a prompt: the tokenizer's encoding with its special tokens (BOS for Llama tokenizers); when
 * that is empty (GPT-2 adds no BOS, an empty prompt), the model's BOS, else its EOS (as GPT-2's
 * <|endoftext|> starts documents and lm-evaluation-harness uses it as the empty context).
 */
export function encodePrompt(
  loaded: LoadedModel,
  prompt: string,
  options: { addSpecialTokens?: boolean } = {},
): number[] {
  const tokenizer = requireTokenizer(loaded);
  const ids = tokenizer.encode(prompt, { addSpecialTokens: options.addSpecialTokens ?? true }).ids;
  if (ids.length > 0) return ids;
  const start = loaded.config.bosTokenId ?? tokenizer.bosTokenId ?? eosTokenIds(loaded)[0];
  if (start === undefined) {
    throw new AdaptlmError(
      "EMPTY_PROMPT",
      "the prompt encodes to no tokens and the model has no BOS/EOS token to start from: give a non-empty prompt",
    );
  }
  return [start];
}

/** Length of the longest suffix of text that is a proper prefix of some stop string (text to hold back). */
function pendingStopLength(text: string, stops: readonly string[]): number {
  let hold = 0;
  for (const stop of stops) {
    for (let k = Math.min(stop.length - 1, text.length); k > hold; k--) {
      if (text.endsWith(stop.slice(0, k))) {
        hold = k;
        break;
      }
    }
  }
  return hold;
}

/** The text token `id` adds after token `previous` (so SentencePiece keeps the piece's leading space). */
function tokenTextAfter(tokenizer: PretrainedTokenizer, previous: number, id: number): string {
  const options = { skipSpecialTokens: false };
  const before = tokenizer.decode([previous], options);
  const both = tokenizer.decode([previous, id], options);
  return both.startsWith(before) ? both.slice(before.length) : tokenizer.decode([id], options);
}

/** Generates text for every prompt (n samples each). */
export function generateText(
  loaded: LoadedModel,
  prompts: readonly string[],
  options: TextGenerationOptions,
): TextGenerationResult {
  const plan = planTextGeneration(loaded, prompts, options);
  return plan.finish(generateBatch(plan.model, plan.promptIds, plan.batchOptions));
}

/** generateText yielding to the event loop between decoding steps (for servers and streaming). */
export async function generateTextAsync(
  loaded: LoadedModel,
  prompts: readonly string[],
  options: TextGenerationOptions,
): Promise<TextGenerationResult> {
  const plan = planTextGeneration(loaded, prompts, options);
  return plan.finish(await generateBatchAsync(plan.model, plan.promptIds, plan.batchOptions));
}

interface TextGenerationPlan {
  model: CausalLanguageModel;
  promptIds: number[][];
  batchOptions: BatchGenerateOptions;
  finish(results: SampleResult[][]): TextGenerationResult;
}

function planTextGeneration(
  loaded: LoadedModel,
  prompts: readonly string[],
  options: TextGenerationOptions,
): TextGenerationPlan {
  const model = causalModel(loaded);
  const tokenizer = requireTokenizer(loaded);
  const encodeOptions = { addSpecialTokens: options.addSpecialTokens ?? true };
  const promptIds = prompts.map((prompt) => encodePrompt(loaded, prompt, encodeOptions));
  const n = options.n ?? 1;
  const stops = (options.stop ?? []).filter((s) => s.length > 0);
  const room = model.config.maxPositions - Math.max(...promptIds.map((p) => p.length));
  if (room <= 0) {
    throw new AdaptlmError(
      "CONTEXT_TOO_LONG",
      `the prompt has ${model.config.maxPositions - room} tokens; the model's context is ${model.config.maxPositions}`,
    );
  }
  const maxNewTokens = Math.min(options.maxTokens, room);
  interface SampleState {
    stream: DecodeStream;
    text: string;
    emitted: number;
    stopped: boolean;
    tokens: GeneratedToken[];
  }
  const states: SampleState[][] = promptIds.map((ids) =>
    Array.from({ length: n }, () => {
      const stream = new DecodeStream(tokenizer, { skipSpecialTokens: true });
      // The prompt's last token is context, so the first piece's leading space survives (SentencePiece).
      stream.step(ids[ids.length - 1]);
      return { stream, text: "", emitted: 0, stopped: false, tokens: [] };
    }),
  );
  const topK = options.topLogprobs ?? 0;
  const batchOptions: BatchGenerateOptions = {
    maxNewTokens,
    ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
    ...(options.topK !== undefined ? { topK: options.topK } : {}),
    ...(options.topP !== undefined ? { topP: options.topP } : {}),
    seed: options.seed ?? 0,
    n,
    topLogprobs: topK,
    eosTokenIds: [...new Set([...eosTokenIds(loaded), ...(options.extraEosTokenIds ?? [])])],
    padTokenId: loaded.config.padTokenId ?? 0,
    onToken: (event) => {
      const state = states[event.prompt][event.sample];
      const piece = state.stream.step(event.token);
      state.text += piece;
      state.tokens.push({ id: event.token, text: piece, logprob: event.logprob, topLogprobs: [] });
      let visible = state.text.length;
      for (const stop of stops) {
        const at = state.text.indexOf(stop);
        if (at >= 0 && at < visible) {
          visible = at;
          state.stopped = true;
        }
      }
      if (state.stopped) state.text = state.text.slice(0, visible);
      const safe = state.stopped
        ? state.text.length
        : state.text.length - pendingStopLength(state.text, stops);
      if (safe > state.emitted) {
        options.onText?.(event.prompt, event.sample, state.text.slice(state.emitted, safe));
        state.emitted = safe;
      }
    },
    shouldStop: (prompt, sample) => states[prompt][sample].stopped || options.signal?.aborted === true,
  };
  const finish = (results: SampleResult[][]): TextGenerationResult => {
    if (options.signal?.aborted) {
      throw new TextGenerationError("GENERATION_ABORTED", "generation was aborted before it finished");
    }
    const samples = results.map((row, p) =>
      row.map((result, s): TextSample => {
        const state = states[p][s];
        if (!state.stopped && state.emitted < state.text.length) {
          options.onText?.(p, s, state.text.slice(state.emitted));
        }
        if (topK > 0) {
          const ids = promptIds[p];
          result.topLogprobs.forEach((alternatives: TokenAlternative[], t) => {
            const previous = t === 0 ? ids[ids.length - 1] : result.tokens[t - 1];
            state.tokens[t].topLogprobs = alternatives.map((a) => ({
              id: a.token,
              text: tokenTextAfter(tokenizer, previous, a.token),
              logprob: a.logprob,
            }));
          });
        }
        const finishReason = state.stopped ? "stop" : result.finishReason === "eos" ? "eos" : "length";
        return { text: state.text, tokens: state.tokens, finishReason };
      }),
    );
    return { promptIds, samples };
  };
  return { model, promptIds, batchOptions, finish };
}

export interface TextScore {
  logprob: number;
  tokens: string[];
  tokenIds: number[];
  tokenLogprobs: number[];
  isGreedy: boolean;
}

/**
 * log P(continuation | prompt) for each continuation, one forward pass. The continuation's tokens are those
 * of encode(prompt + continuation) after the prompt's tokens when that encoding extends the prompt's (so the
 * boundary is tokenized as the model sees running text, as lm-evaluation-harness does), else the
 * continuation encoded on its own.
 */
export function scoreText(
  loaded: LoadedModel,
  prompt: string,
  continuations: readonly string[],
): TextScore[] {
  const model = causalModel(loaded);
  const tokenizer = requireTokenizer(loaded);
  const context = encodePrompt(loaded, prompt);
  const plainContext = tokenizer.encode(prompt).ids;
  const continuationIds = continuations.map((continuation) => {
    if (plainContext.length > 0) {
      const whole = tokenizer.encode(prompt + continuation).ids;
      if (whole.length >= plainContext.length && plainContext.every((id, i) => whole[i] === id)) {
        return whole.slice(plainContext.length);
      }
    }
    return tokenizer.encode(continuation, { addSpecialTokens: false }).ids;
  });
  const scores = scoreContinuations(model, context, continuationIds);
  return scores.map((score, i) => {
    const stream = new DecodeStream(tokenizer, { skipSpecialTokens: true });
    stream.step(context[context.length - 1]);
    return {
      logprob: score.logprob,
      tokens: continuationIds[i].map((id) => stream.step(id)),
      tokenIds: continuationIds[i],
      tokenLogprobs: score.tokenLogprobs,
      isGreedy: score.isGreedy,
    };
  });
}
