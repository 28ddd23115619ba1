// One place that composes a run's LanguageModel from a target and options, so every command builds it the
// same way: backend -> usage meter (what is paid) -> response cache (hits cost nothing) -> recorder (every
// answer the strategy saw, replayable without the cache).
//
// Targets: "http://..." or "https://..." (an OpenAI-compatible server; the model name from `model`),
// "replay:<file.jsonl>" (recorded answers), or anything else: a local model, built by `localFactory` (the
// local engine backend registers itself there; without one the target is an error).

import { AdaptlmError } from "../errors.js";
import type { LanguageModel } from "./language-model.js";
import { OpenAICompatibleLanguageModel, type OpenAICompatibleOptions } from "./openai-compatible.js";
import { RecordingLanguageModel, ReplayLanguageModel } from "./replay.js";
import { CachedLanguageModel, ResponseCache } from "./response-cache.js";
import { type ModelPrice, UsageMeter, type UsageSnapshot } from "./usage-meter.js";

export class LmTargetError extends AdaptlmError {
  constructor(message: string) {
    super("LM_TARGET", message);
  }
}

export interface LanguageModelStackOptions {
  /** A URL, "replay:<file>", or a local model name or folder. */
  target: string;
  /** Model name sent to a server (required for URLs; for replay, selects the recorded model). */
  model?: string;
  /** Options of the OpenAI-compatible backend other than baseUrl and model. */
  http?: Omit<OpenAICompatibleOptions, "baseUrl" | "model">;
  /** Extra base URLs balanced with the target. */
  extraBaseUrls?: string[];
  /** SQLite response cache file. */
  cachePath?: string;
  /** Cache namespace (default: the target for URLs, so servers do not share answers). */
  cacheNamespace?: string;
  /** JSONL file every answer is appended to. */
  recordPath?: string;
  prices?: Record<string, ModelPrice>;
  budget?: number;
  maxTotalTokens?: number;
  onUsage?: (snapshot: UsageSnapshot) => void;
  /** Builds a local model for a non-URL target (registered by the local engine backend). */
  localFactory?: (target: string) => LanguageModel;
}

export interface LanguageModelStack {
  /** The model strategies should use. */
  lm: LanguageModel;
  /** The backend itself (no meter, cache or recorder). */
  backend: LanguageModel;
  meter: UsageMeter;
  cache: CachedLanguageModel | undefined;
  /** Closes the cache database. */
  close(): void;
}

export function buildLanguageModelStack(options: LanguageModelStackOptions): LanguageModelStack {
  const backend = buildBackend(options);
  const meter = new UsageMeter({
    ...(options.prices ? { prices: options.prices } : {}),
    ...(options.budget !== undefined ? { budget: options.budget } : {}),
    ...(options.maxTotalTokens !== undefined ? { maxTotalTokens: options.maxTotalTokens } : {}),
    ...(options.onUsage ? { onUsage: options.onUsage } : {}),
  });
  let lm = meter.wrap(backend);
  let store: ResponseCache | undefined;
  let cache: CachedLanguageModel | undefined;
  if (options.cachePath !== undefined) {
    store = new ResponseCache(options.cachePath);
    const namespace =
      options.cacheNamespace ?? (isUrl(options.target) ? options.target.replace(/\/+$/, "") : "");
    cache = new CachedLanguageModel(lm, store, { namespace });
    lm = cache;
  }
  if (options.recordPath !== undefined) lm = new RecordingLanguageModel(lm, options.recordPath);
  return { lm, backend, meter, cache, close: () => store?.close() };
}

function isUrl(target: string): boolean {
  return /^https?:\/\//.test(target);
}

function buildBackend(options: LanguageModelStackOptions): LanguageModel {
  const { target } = options;
  if (isUrl(target)) {
    if (!options.model) {
      throw new LmTargetError(
        `a server target (${target}) needs the model name it serves: pass --model <name>`,
      );
    }
    return new OpenAICompatibleLanguageModel({
      ...options.http,
      baseUrl: [target, ...(options.extraBaseUrls ?? [])],
      model: options.model,
    });
  }
  if (target.startsWith("replay:")) {
    const path = target.slice("replay:".length);
    if (path === "") throw new LmTargetError('a replay target needs a file: "replay:<recording.jsonl>"');
    return ReplayLanguageModel.fromFile(path, options.model ? { model: options.model } : {});
  }
  if (!options.localFactory) {
    throw new LmTargetError(
      `"${target}" is neither a server URL (http://...) nor "replay:<file>", and no local engine backend is available ` +
        "to load it as a model: start an OpenAI-compatible server and pass its URL",
    );
  }
  return options.localFactory(target);
}
