// The local engine as a LanguageModel: a model folder, llama2.c checkpoint or hub id, run in-process on
// adaptlm's own tensor engine. `generate` decodes the `n` samples of a request as one batch after a single
// prefill of the prompt (sample i seeded with seed + i, so n samples equal n single requests with seeds
// seed, seed + 1, ... as generateSamples sends them elsewhere); `score` is one forward pass.
//
// Capabilities: n, seed, logprobs with up to 20 alternatives, score, plain-text prompts. Chat messages are not
// accepted (no chat templates yet): strategies see `chat: false` and send plain prompts.

import { AdaptlmError } from "../errors.js";
import type { HubOptions } from "../io/hub.js";
import { type LoadedModel, loadModel } from "../models/load-model.js";
import { encodePrompt, generateTextAsync, scoreText } from "../models/text-generation.js";
import {
  type CallOptions,
  type Choice,
  type GenerateRequest,
  type GenerateResponse,
  type LanguageModel,
  type LanguageModelCapabilities,
  LmCapabilityError,
  normaliseRequest,
  type ScoreResult,
} from "./language-model.js";

export const LOCAL_MAX_TOP_LOGPROBS = 20;

export interface LocalEngineOptions {
  /** Tokenizer path for a llama2.c checkpoint without tokenizer.bin next to it. */
  tokenizer?: string;
  /** Model name reported in `model` (cache keys, usage); default: the target as given. */
  name?: string;
  hub?: HubOptions;
}

function abortError(): AdaptlmError {
  return new AdaptlmError("LM_ABORTED", "the request was aborted before the local engine started it");
}

export class LocalLanguageModel implements LanguageModel {
  readonly capabilities: LanguageModelCapabilities = {
    n: true,
    seed: true,
    logprobs: true,
    topLogprobs: LOCAL_MAX_TOP_LOGPROBS,
    score: true,
    chat: false,
    completions: true,
  };
  private loaded: Promise<LoadedModel> | null = null;

  /**
   * `source`: a loaded model, or a target (folder, .bin, hub id) loaded on the first request, so building a
   * stack never blocks and a hub download happens only when the model is used.
   */
  constructor(
    private readonly source: LoadedModel | string,
    private readonly options: LocalEngineOptions = {},
  ) {
    this.model =
      options.name ?? (typeof source === "string" ? source : (source.source.hubId ?? source.source.path));
  }

  readonly model: string;

  /** The loaded model (loading it on first use). */
  load(): Promise<LoadedModel> {
    if (!this.loaded) {
      const source = this.source;
      this.loaded =
        typeof source === "string"
          ? loadModel(source, {
              ...(this.options.tokenizer ? { tokenizer: this.options.tokenizer } : {}),
              ...(this.options.hub ? { hub: this.options.hub } : {}),
            })
          : Promise.resolve(source);
      // A failed load is reported to this caller and retried by the next one.
      this.loaded.catch(() => {
        this.loaded = null;
      });
    }
    return this.loaded;
  }

  async generate(request: GenerateRequest, options: CallOptions = {}): Promise<GenerateResponse> {
    const normalised = normaliseRequest(request);
    if (typeof normalised.prompt !== "string") {
      throw new LmCapabilityError(
        `the local engine (${this.model}) takes plain-text prompts; chat messages need a chat template, which it does not have: send a string prompt`,
      );
    }
    if (normalised.logprobs !== null && normalised.logprobs > LOCAL_MAX_TOP_LOGPROBS) {
      throw new LmCapabilityError(
        `the local engine returns at most ${LOCAL_MAX_TOP_LOGPROBS} top logprobs, asked for ${normalised.logprobs}`,
      );
    }
    const loaded = await this.load();
    if (options.signal?.aborted) throw abortError();
    if (normalised.maxTokens === 0) {
      const choices: Choice[] = Array.from({ length: normalised.n }, () => ({
        text: "",
        finishReason: "length",
      }));
      return { choices, usage: { promptTokens: 0, completionTokens: 0 } };
    }
    // Yields between decoding steps, so an abort (signal) ends the request at the next token.
    const result = await generateTextAsync(loaded, [normalised.prompt], {
      ...(options.signal ? { signal: options.signal } : {}),
      maxTokens: normalised.maxTokens,
      temperature: normalised.temperature,
      topP: normalised.topP,
      seed: normalised.seed ?? 0,
      n: normalised.n,
      stop: normalised.stop,
      topLogprobs: normalised.logprobs ?? 0,
    });
    let completionTokens = 0;
    const choices = result.samples[0].map((sample): Choice => {
      completionTokens += sample.tokens.length;
      const choice: Choice = {
        text: sample.text,
        finishReason: sample.finishReason === "length" ? "length" : "stop",
      };
      if (normalised.logprobs !== null) {
        choice.logprobs = sample.tokens.map((token) => ({
          token: token.text,
          logprob: token.logprob,
          ...(normalised.logprobs
            ? { topLogprobs: token.topLogprobs.map((t) => ({ token: t.text, logprob: t.logprob })) }
            : {}),
        }));
      }
      return choice;
    });
    return { choices, usage: { promptTokens: result.promptIds[0].length, completionTokens } };
  }

  async score(prompt: string, continuation: string, options: CallOptions = {}): Promise<ScoreResult> {
    const loaded = await this.load();
    if (options.signal?.aborted) throw abortError();
    const [score] = scoreText(loaded, prompt, [continuation]);
    return {
      logprob: score.logprob,
      tokens: score.tokens,
      tokenLogprobs: score.tokenLogprobs,
      isGreedy: score.isGreedy,
      usage: {
        promptTokens: encodePrompt(loaded, prompt).length + score.tokenIds.length,
        completionTokens: 0,
      },
    };
  }
}

/** A `localFactory` for buildLanguageModelStack: every non-URL target becomes a lazily loaded local model. */
export function localEngineFactory(options: LocalEngineOptions = {}): (target: string) => LanguageModel {
  return (target) => new LocalLanguageModel(target, options);
}
