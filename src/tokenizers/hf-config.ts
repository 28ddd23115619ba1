// tokenizer_config.json and special_tokens_map.json of a Hugging Face model folder: which texts are the
// special tokens, extra added tokens, and a few flags (lower-casing, BOS/EOS, prefix space, max length).

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TokenizerError } from "./errors.js";
import type { AddedToken } from "./tokenizer.js";

export interface HfTokenizerConfig {
  bosToken?: string;
  eosToken?: string;
  unkToken?: string;
  sepToken?: string;
  padToken?: string;
  clsToken?: string;
  maskToken?: string;
  addedTokens: AddedToken[];
  tokenizerClass?: string;
  doLowerCase?: boolean;
  stripAccents?: boolean;
  tokenizeChineseChars?: boolean;
  addBosToken?: boolean;
  addEosToken?: boolean;
  addPrefixSpace?: boolean;
  cleanUpTokenizationSpaces?: boolean;
  modelMaxLength?: number;
}

/** Parses a JSON file, turning a syntax error into TOKENIZER_BAD_JSON naming the file. */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new TokenizerError("TOKENIZER_NOT_FOUND", `cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TokenizerError(
      "TOKENIZER_BAD_JSON",
      `${path} is not valid JSON (${(error as Error).message}); the file is truncated or corrupted — download it again`,
      { cause: error },
    );
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A special token entry is either a string or an AddedToken object {content, ...}. */
function tokenText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (isObject(value) && typeof value.content === "string") return value.content;
  return undefined;
}

function bool(value: unknown): boolean | undefined {
  return typeof value === "boolean" ? value : undefined;
}

/** Reads tokenizer_config.json and special_tokens_map.json from `dir` (both optional). */
export function readHfTokenizerConfig(dir: string): HfTokenizerConfig {
  const config: HfTokenizerConfig = { addedTokens: [] };
  const sources: Json[] = [];
  for (const name of ["special_tokens_map.json", "tokenizer_config.json"]) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const json = readJsonFile(path);
    if (!isObject(json)) {
      throw new TokenizerError("TOKENIZER_BAD_FILE", `${path} should hold a JSON object`);
    }
    sources.push(json);
  }
  // tokenizer_config.json is read last, so its values win.
  for (const json of sources) {
    const set = (field: keyof HfTokenizerConfig, key: string): void => {
      if (!(key in json)) return;
      const text = tokenText(json[key]);
      (config as unknown as Record<string, unknown>)[field] = text;
    };
    set("bosToken", "bos_token");
    set("eosToken", "eos_token");
    set("unkToken", "unk_token");
    set("sepToken", "sep_token");
    set("padToken", "pad_token");
    set("clsToken", "cls_token");
    set("maskToken", "mask_token");
    if (typeof json.tokenizer_class === "string") config.tokenizerClass = json.tokenizer_class;
    config.doLowerCase = bool(json.do_lower_case) ?? config.doLowerCase;
    config.stripAccents = bool(json.strip_accents) ?? config.stripAccents;
    config.tokenizeChineseChars = bool(json.tokenize_chinese_chars) ?? config.tokenizeChineseChars;
    config.addBosToken = bool(json.add_bos_token) ?? config.addBosToken;
    config.addEosToken = bool(json.add_eos_token) ?? config.addEosToken;
    config.addPrefixSpace = bool(json.add_prefix_space) ?? config.addPrefixSpace;
    config.cleanUpTokenizationSpaces =
      bool(json.clean_up_tokenization_spaces) ?? config.cleanUpTokenizationSpaces;
    // model_max_length is often a huge sentinel (1e30) meaning "no limit".
    if (typeof json.model_max_length === "number" && json.model_max_length < 1e12) {
      config.modelMaxLength = json.model_max_length;
    }
    if (isObject(json.added_tokens_decoder)) {
      for (const [idText, entry] of Object.entries(json.added_tokens_decoder)) {
        const id = Number(idText);
        if (!Number.isInteger(id) || id < 0 || !isObject(entry) || typeof entry.content !== "string") {
          throw new TokenizerError(
            "TOKENIZER_BAD_FILE",
            `tokenizer_config.json added_tokens_decoder entry "${idText}" should map an integer id to {content, ...}`,
          );
        }
        config.addedTokens.push(addedTokenFromJson(id, entry));
      }
    }
  }
  return config;
}

/** An AddedToken from tokenizer.json's added_tokens / tokenizer_config.json's added_tokens_decoder. */
export function addedTokenFromJson(id: number, entry: Json): AddedToken {
  return {
    id,
    content: String(entry.content),
    special: entry.special === true,
    lstrip: entry.lstrip === true,
    rstrip: entry.rstrip === true,
    singleWord: entry.single_word === true,
  };
}
