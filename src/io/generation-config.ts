// generation_config.json: the decoding defaults a model's authors ship next to config.json (transformers'
// GenerationConfig). What adaptlm uses of it: the end-of-sequence ids (chat models often end turns with a
// token that config.json does not name, e.g. Llama 3's <|eot_id|>), and the sampling defaults a command
// applies when the user gives none (do_sample false means greedy whatever temperature says, as in
// transformers). Other fields (beam search, penalties) are kept out rather than half-applied.

import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, FieldReader } from "./hf-config.js";

export const GENERATION_CONFIG_FILE = "generation_config.json";

export interface GenerationDefaults {
  /** eos_token_id as a list (empty when absent). */
  eosTokenIds: number[];
  bosTokenId: number | null;
  /** do_sample: false (transformers' default) decodes greedily. */
  doSample: boolean;
  /** Sampling settings, null where the file leaves them to the library default. */
  temperature: number | null;
  topK: number | null;
  topP: number | null;
  /** max_new_tokens, else null (max_length counts the prompt too, so it is not a new-token budget). */
  maxNewTokens: number | null;
}

/**
 * Normalises a parsed generation_config.json object; `source` names it in errors. Throws ConfigError
 * (CONFIG_NOT_JSON, CONFIG_INVALID_FIELD).
 */
export function parseGenerationConfig(json: unknown, source = GENERATION_CONFIG_FILE): GenerationDefaults {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ConfigError("CONFIG_NOT_JSON", `${source} must hold a JSON object`);
  }
  const raw = json as Record<string, unknown>;
  const f = new FieldReader(raw, source);
  const given = (key: string) => raw[key] !== undefined && raw[key] !== null;
  const eos = f.tokenIds("eos_token_id", null);
  const topP = given("top_p") ? f.positiveNumber("top_p", 1) : null;
  if (topP !== null && topP > 1) {
    throw new ConfigError("CONFIG_INVALID_FIELD", `${source}: "top_p" must be in (0, 1], found ${topP}`);
  }
  const temperature = !given("temperature")
    ? null
    : raw.temperature === 0
      ? 0
      : f.positiveNumber("temperature", 1);
  return {
    eosTokenIds: eos === null ? [] : Array.isArray(eos) ? eos : [eos],
    bosTokenId: f.specialId("bos_token_id", null),
    doSample: f.bool("do_sample", false),
    temperature,
    topK: f.optionalInt("top_k", null, 0),
    topP,
    maxNewTokens: f.optionalInt("max_new_tokens", null, 1),
  };
}

/**
 * generation_config.json of a model folder (or the file itself), or null when the folder has none. Throws
 * ConfigError (CONFIG_IO, CONFIG_NOT_JSON, CONFIG_INVALID_FIELD) for a file that exists but is unreadable or
 * malformed: a broken file is reported, not silently ignored.
 */
export function readGenerationConfig(path: string): GenerationDefaults | null {
  let file = path;
  try {
    if (statSync(path).isDirectory()) file = join(path, GENERATION_CONFIG_FILE);
  } catch {
    return null;
  }
  if (!existsSync(file)) return null;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new ConfigError(
      error instanceof SyntaxError ? "CONFIG_NOT_JSON" : "CONFIG_IO",
      `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return parseGenerationConfig(json, file);
}

export interface SamplingChoice {
  temperature: number;
  topK: number;
  topP: number;
  maxTokens: number;
}

/**
 * Sampling settings: what the user gave, else the model's generation_config.json, else `fallback`. With
 * do_sample false the model's default is greedy (temperature 0), as transformers' generate() decodes it.
 */
export function samplingDefaults(
  given: Partial<SamplingChoice>,
  model: GenerationDefaults | null,
  fallback: SamplingChoice,
): SamplingChoice {
  const fromModel: Partial<SamplingChoice> = {};
  if (model) {
    // transformers' GenerationConfig defaults for what the file leaves out: temperature 1, top_k 50, top_p 1
    fromModel.temperature = model.doSample ? (model.temperature ?? 1) : 0;
    if (model.doSample) fromModel.topK = model.topK ?? 50;
    if (model.doSample) fromModel.topP = model.topP ?? 1;
    if (model.maxNewTokens !== null) fromModel.maxTokens = model.maxNewTokens;
  }
  return {
    temperature: given.temperature ?? fromModel.temperature ?? fallback.temperature,
    topK: given.topK ?? fromModel.topK ?? fallback.topK,
    topP: given.topP ?? fromModel.topP ?? fallback.topP,
    maxTokens: given.maxTokens ?? fromModel.maxTokens ?? fallback.maxTokens,
  };
}
