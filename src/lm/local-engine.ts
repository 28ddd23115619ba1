// The local engine as a LanguageModel: a model folder, llama2.c checkpoint or hub id, run in-process on
// adaptlm's own tensor engine. `generate` decodes the `n` samples of a request as one batch after a single
// prefill of the prompt (sample i seeded with seed + i, so n samples equal n single requests with seeds
// seed, seed + 1, ... as generateSamples sends them elsewhere); `score` is one forward pass.
//
// Capabilities: n, seed, logprobs with up to 20 alternatives, score, plain-text prompts, and chat messages where
// the model has a chat template (tokenizer_config.json's chat_template, or one given in the options): the
// messages are rendered as transformers' apply_chat_template renders them and encoded without the tokenizer's
// own special tokens. A model without a template refuses chat (LmCapabilityError) unless the caller opted into
// the plain "role: content" transcript (`plainChat`).

import { statSync } from "node:fs";
import { AdaptlmError } from "../errors.js";
import { readGenerationConfig } from "../io/generation-config.js";
import type { HubOptions } from "../io/hub.js";
import { type LoadedModel, loadModel, requireTokenizer } from "../models/load-model.js";
import { encodePrompt, generateTextAsync, scoreText } from "../models/text-generation.js";
import {
  type ChatFormat,
  ChatTemplateError,
  chatFormatFor,
  readChatTemplateFile,
  readChatTemplates,
} from "../tokenizers/chat-template.js";
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
  /** A chat template to use instead of the model's: a .jinja file, or a JSON file with a chat_template field. */
  chatTemplate?: string;
  /** Which of several named templates (default "default"). */
  chatTemplateName?: string;
  /** Without a chat template, render chat messages as the plain "role: content" transcript instead of refusing. */
  plainChat?: boolean;
}

/** The model folder of a loaded model (chat templates live there); undefined for a llama2.c checkpoint. */
export function modelFolder(loaded: LoadedModel): string | undefined {
  return loaded.source.format === "safetensors" && isDirectory(loaded.source.path)
    ? loaded.source.path
    : undefined;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Whether chat will work, known before loading: a template given or opted-in plain chat, or one in the folder. */
function chatAvailable(source: LoadedModel | string, options: LocalEngineOptions): boolean {
  if (options.plainChat || options.chatTemplate !== undefined) return true;
  const folder =
    typeof source === "string" ? (isDirectory(source) ? source : undefined) : modelFolder(source);
  try {
    return folder !== undefined && readChatTemplates(folder) !== undefined;
  } catch {
    // a malformed template is reported when chat is used
    return false;
  }
}

function abortError(): AdaptlmError {
  return new AdaptlmError("LM_ABORTED", "the request was aborted before the local engine started it");
}

export class LocalLanguageModel implements LanguageModel {
  readonly capabilities: LanguageModelCapabilities;
  private loaded: Promise<LoadedModel> | null = null;
  private chatFormat: ChatFormat | null = null;

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
    this.capabilities = {
      n: true,
      seed: true,
      logprobs: true,
      topLogprobs: LOCAL_MAX_TOP_LOGPROBS,
      score: true,
      chat: chatAvailable(source, options),
      completions: true,
    };
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

  /** generation_config.json's eos ids (e.g. Llama 3's <|eot_id|>), which end a text as config.json's eos does. */
  private generationEosIds(loaded: LoadedModel): readonly number[] {
    if (!this.generationEos) {
      const folder = modelFolder(loaded);
      this.generationEos = (folder ? readGenerationConfig(folder) : null)?.eosTokenIds ?? [];
    }
    return this.generationEos;
  }

  private generationEos: readonly number[] | null = null;

  /** How this model renders chat messages (its template, a given one, or the opted-in plain transcript). */
  chatFormatOf(loaded: LoadedModel): ChatFormat {
    if (!this.chatFormat) {
      try {
        this.chatFormat = chatFormatFor(
          modelFolder(loaded),
          requireTokenizer(loaded),
          {
            ...(this.options.chatTemplate
              ? { templates: readChatTemplateFile(this.options.chatTemplate) }
              : {}),
            ...(this.options.chatTemplateName ? { name: this.options.chatTemplateName } : {}),
            ...(this.options.plainChat ? { plainFallback: true } : {}),
          },
          this.model,
        );
      } catch (error) {
        if (error instanceof ChatTemplateError && error.code === "CHAT_TEMPLATE_MISSING")
          throw new LmCapabilityError(`the local engine cannot chat: ${error.message}`);
        throw error;
      }
    }
    return this.chatFormat;
  }

  async generate(request: GenerateRequest, options: CallOptions = {}): Promise<GenerateResponse> {
    const normalised = normaliseRequest(request);
    if (normalised.logprobs !== null && normalised.logprobs > LOCAL_MAX_TOP_LOGPROBS) {
      throw new LmCapabilityError(
        `the local engine returns at most ${LOCAL_MAX_TOP_LOGPROBS} top logprobs, asked for ${normalised.logprobs}`,
      );
    }
    const loaded = await this.load();
    if (options.signal?.aborted) throw abortError();
    const chat = typeof normalised.prompt === "string" ? null : this.chatFormatOf(loaded);
    const promptText =
      typeof normalised.prompt === "string"
        ? normalised.prompt
        : (chat as ChatFormat).render(normalised.prompt);
    if (normalised.maxTokens === 0) {
      const choices: Choice[] = Array.from({ length: normalised.n }, () => ({
        text: "",
        finishReason: "length",
      }));
      return { choices, usage: { promptTokens: 0, completionTokens: 0 } };
    }
    // Yields between decoding steps, so an abort (signal) ends the request at the next token.
    const result = await generateTextAsync(loaded, [promptText], {
      ...(options.signal ? { signal: options.signal } : {}),
      maxTokens: normalised.maxTokens,
      temperature: normalised.temperature,
      topP: normalised.topP,
      seed: normalised.seed ?? 0,
      n: normalised.n,
      stop: chat ? [...normalised.stop, ...chat.stop] : normalised.stop,
      topLogprobs: normalised.logprobs ?? 0,
      addSpecialTokens: chat ? chat.addSpecialTokens : true,
      extraEosTokenIds: [...this.generationEosIds(loaded), ...(chat ? chat.endOfTurnTokenIds : [])],
    });
    let completionTokens = 0;
    const choices = result.samples[0].map((sample): Choice => {
      completionTokens += sample.tokens.length;
      const choice: Choice = {
        text: chat ? chat.cleanReply(sample.text) : sample.text,
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
