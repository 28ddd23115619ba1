// The one interface every prompting strategy talks to (after DSPy's minimal LM): `generate` text for a prompt
// or a chat, and `score` the log-likelihood of a continuation given a prompt. Backends (the local engine, any
// OpenAI-compatible HTTP server, replay of recorded answers) and wrappers (response cache, usage meter,
// recorder) all implement it, so they compose: `cache(meter(http))`.
//
// A backend declares what it can do in `capabilities`; strategies adapt instead of failing, e.g.
// self-consistency asks for `n` samples in one request where `capabilities.n` holds and sends separate seeded
// requests otherwise (see `generateSamples`), and multiple choice uses `score` where `capabilities.score`
// holds, else single-token verbaliser logprobs, else generation and parsing.

import { AdaptlmError } from "../errors.js";

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface GenerateRequest {
  /** A plain prompt (completions endpoint) or chat messages (chat endpoint). */
  prompt: string | ChatMessage[];
  /** Upper bound on generated tokens per choice. Default 256. */
  maxTokens?: number;
  /** Sampling temperature; 0 is greedy. Default 0. */
  temperature?: number;
  /** Nucleus sampling mass. Default 1. */
  topP?: number;
  /** Generation stops before any of these strings; they are not part of the returned text. */
  stop?: string[];
  /** Seed for sampling, so the same request gives the same samples where the backend supports it. */
  seed?: number;
  /** Number of choices to return. Default 1. */
  n?: number;
  /**
   * Ask for token logprobs: the number of top alternatives per position (0 = only the chosen token's logprob).
   * Undefined = no logprobs.
   */
  logprobs?: number;
}

export interface TopLogprob {
  token: string;
  logprob: number;
}

export interface TokenLogprob {
  token: string;
  logprob: number;
  /** The most likely alternatives at this position, most likely first (present when asked for with k > 0). */
  topLogprobs?: TopLogprob[];
}

/** Why generation of a choice ended: a stop string or end-of-sequence, the token limit, or something else. */
export type FinishReason = "stop" | "length" | "other";

export interface Choice {
  text: string;
  finishReason: FinishReason;
  /** Per generated token, when the request asked for logprobs and the backend has them. */
  logprobs?: TokenLogprob[];
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export interface GenerateResponse {
  /** Exactly `request.n ?? 1` choices, in sample order. */
  choices: Choice[];
  usage: Usage;
  /** True when every choice came from a response cache (nothing was paid for). */
  cached?: boolean;
}

export interface ScoreResult {
  /** Sum of the continuation tokens' logprobs, i.e. log P(continuation | prompt). */
  logprob: number;
  /** The continuation's tokens as the model split them. */
  tokens: string[];
  tokenLogprobs: number[];
  /** True when every continuation token is the model's most likely token at its position (greedy decoding would produce it). */
  isGreedy: boolean;
  usage: Usage;
  cached?: boolean;
}

export interface LanguageModelCapabilities {
  /** Several choices per request (`n > 1`). */
  n: boolean;
  /** Seeded sampling. */
  seed: boolean;
  /** Logprobs of generated tokens. */
  logprobs: boolean;
  /** How many top alternatives per position the backend returns at most (0 = none). */
  topLogprobs: number;
  /** `score(prompt, continuation)` works (an OpenAI-compatible server needs `echo` with logprobs, as vLLM has). */
  score: boolean;
  /** Chat messages are accepted. */
  chat: boolean;
  /** Plain string prompts are accepted. */
  completions: boolean;
}

/** Per-call options that are not part of the request (and so not part of any cache key). */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface LanguageModel {
  /** The model identifier: part of every cache key and of usage accounting. */
  readonly model: string;
  readonly capabilities: LanguageModelCapabilities;
  generate(request: GenerateRequest, options?: CallOptions): Promise<GenerateResponse>;
  /** Log-likelihood of `continuation` right after `prompt`. Throws `LmCapabilityError` where `capabilities.score` is false. */
  score(prompt: string, continuation: string, options?: CallOptions): Promise<ScoreResult>;
}

/** A request asked of a backend that cannot do it, e.g. `score` on a server without `echo`. */
export class LmCapabilityError extends AdaptlmError {
  constructor(message: string) {
    super("LM_CAPABILITY", message);
  }
}

/** A request that makes no sense whatever the backend (e.g. n < 1, negative maxTokens). */
export class LmRequestError extends AdaptlmError {
  constructor(message: string) {
    super("LM_REQUEST", message);
  }
}

/** A request with every default filled in and keys in a fixed order, so equal requests serialise equally. */
export interface NormalisedRequest {
  prompt: string | ChatMessage[];
  maxTokens: number;
  temperature: number;
  topP: number;
  stop: string[];
  seed: number | null;
  n: number;
  logprobs: number | null;
}

export const DEFAULT_MAX_TOKENS = 256;

export function normaliseRequest(request: GenerateRequest): NormalisedRequest {
  const n = request.n ?? 1;
  const maxTokens = request.maxTokens ?? DEFAULT_MAX_TOKENS;
  const temperature = request.temperature ?? 0;
  const topP = request.topP ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new LmRequestError(`n must be a positive integer, got ${n}`);
  if (!Number.isInteger(maxTokens) || maxTokens < 0) {
    throw new LmRequestError(`maxTokens must be a non-negative integer, got ${maxTokens}`);
  }
  if (!(temperature >= 0)) throw new LmRequestError(`temperature must be >= 0, got ${temperature}`);
  if (!(topP > 0 && topP <= 1)) throw new LmRequestError(`topP must be in (0, 1], got ${topP}`);
  if (request.logprobs !== undefined && (!Number.isInteger(request.logprobs) || request.logprobs < 0)) {
    throw new LmRequestError(
      `logprobs must be a non-negative integer (top-k count), got ${request.logprobs}`,
    );
  }
  const prompt =
    typeof request.prompt === "string"
      ? request.prompt
      : request.prompt.map((message) => ({ role: message.role, content: message.content }));
  return {
    prompt,
    maxTokens,
    temperature,
    topP,
    stop: [...(request.stop ?? [])],
    seed: request.seed ?? null,
    n,
    logprobs: request.logprobs ?? null,
  };
}

/** Back from the normalised form to a plain request (nulls dropped). */
export function denormaliseRequest(request: NormalisedRequest): GenerateRequest {
  const out: GenerateRequest = {
    prompt: request.prompt,
    maxTokens: request.maxTokens,
    temperature: request.temperature,
    topP: request.topP,
    n: request.n,
  };
  if (request.stop.length > 0) out.stop = request.stop;
  if (request.seed !== null) out.seed = request.seed;
  if (request.logprobs !== null) out.logprobs = request.logprobs;
  return out;
}

/** JSON with object keys sorted at every level: equal values give equal strings. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((item) => stableStringify(item)).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableStringify(item)}`).join(",")}}`;
}

/** Text of a prompt for length estimates and messages: the string itself, or the chat contents joined. */
export function promptText(prompt: string | ChatMessage[]): string {
  return typeof prompt === "string" ? prompt : prompt.map((message) => message.content).join("\n");
}

/** Length-normalised sequence probability exp(mean token logprob); undefined without logprobs. */
export function meanTokenProbability(choice: Choice): number | undefined {
  if (!choice.logprobs || choice.logprobs.length === 0) return undefined;
  let sum = 0;
  for (const token of choice.logprobs) sum += token.logprob;
  return Math.exp(sum / choice.logprobs.length);
}

/**
 * Draws `request.n` samples, adapting to the backend: one request with `n` where `capabilities.n` holds, else
 * `n` requests with n = 1 and seeds `seed, seed + 1, ...` (seed defaults to 0), so every sample is distinct
 * and reproducible and a response cache keys each one separately. Sends at most `concurrency` at once.
 */
export async function generateSamples(
  lm: LanguageModel,
  request: GenerateRequest,
  options: CallOptions & { concurrency?: number } = {},
): Promise<GenerateResponse> {
  const n = request.n ?? 1;
  const callOptions: CallOptions = options.signal ? { signal: options.signal } : {};
  if (n === 1 || lm.capabilities.n) return lm.generate(request, callOptions);
  const baseSeed = request.seed ?? 0;
  const responses: GenerateResponse[] = new Array(n);
  const concurrency = Math.max(1, options.concurrency ?? n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const index = next++;
      responses[index] = await lm.generate({ ...request, n: 1, seed: baseSeed + index }, callOptions);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  const usage: Usage = { promptTokens: 0, completionTokens: 0 };
  const choices: Choice[] = [];
  for (const response of responses) {
    choices.push(response.choices[0]);
    usage.promptTokens += response.usage.promptTokens;
    usage.completionTokens += response.usage.completionTokens;
  }
  return { choices, usage, cached: responses.every((response) => response.cached === true) };
}
