// A trained tokenizer as the files Hugging Face writes with save_pretrained: tokenizer.json (the tokenizers
// library's serialization, which `tokenizers.Tokenizer.from_file`, transformers' fast tokenizers and our
// `loadTokenizer` read) and tokenizer_config.json (tokenizer_class, model_max_length and which added token
// plays which special role). Both are written atomically.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic-file.js";
import { TokenizerError } from "./errors.js";

/** An entry of tokenizer.json's added_tokens (field names and order as the tokenizers library writes them). */
export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

type JsonComponent = Record<string, unknown>;

/** The parsed form of a tokenizer.json as the tokenizers library writes it. */
export interface TokenizerJsonObject {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: JsonComponent | null;
  pre_tokenizer: JsonComponent | null;
  post_processor: JsonComponent | null;
  decoder: JsonComponent | null;
  model: {
    type: "BPE" | "WordPiece";
    /** Token -> id; a prototype-less object, so that a token such as "__proto__" is an ordinary key. */
    vocab: Record<string, number>;
    [field: string]: unknown;
  };
}

/** A special added token, as the trainers declare theirs (never normalized, matched as written). */
export function specialAddedToken(id: number, content: string): AddedTokenJson {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** tokens[id] -> {token: id} in id order, without a prototype. */
export function vocabObject(tokens: readonly string[]): Record<string, number> {
  const vocab = Object.create(null) as Record<string, number>;
  tokens.forEach((token, id) => {
    vocab[token] = id;
  });
  return vocab;
}

const VOCAB_PLACEHOLDER = "\u0000vocab\u0000";

/**
 * tokenizer.json text: two-space indentation, as `Tokenizer.save(path, pretty=True)`, with the vocabulary in
 * id order (a JavaScript object would list integer-like tokens such as "42" first). The same object always
 * gives the same bytes.
 */
export function tokenizerJsonText(json: TokenizerJsonObject): string {
  const entries = Object.entries(json.model.vocab).sort((a, b) => a[1] - b[1]);
  const model = { ...json.model, vocab: VOCAB_PLACEHOLDER };
  const text = JSON.stringify({ ...json, model }, null, 2);
  const indent = "      ";
  const vocab =
    entries.length === 0
      ? "{}"
      : `{\n${entries.map(([token, id]) => `${indent}${JSON.stringify(token)}: ${id}`).join(",\n")}\n    }`;
  return `${text.replace(JSON.stringify(VOCAB_PLACEHOLDER), () => vocab)}\n`;
}

export type SpecialTokenRole = "bos" | "eos" | "unk" | "sep" | "pad" | "cls" | "mask";

export interface TokenizerFolderOptions {
  /** Longest input the model takes, in tokens (tokenizer_config.json's model_max_length). */
  modelMaxLength: number;
  /** "bpe" (GPT-2 style) or "wordpiece" (BERT style); default: from the model type of the JSON. */
  kind?: "bpe" | "wordpiece";
  /** Which added token plays which role; default: recognised by name among the added tokens. */
  specialTokens?: Partial<Record<SpecialTokenRole, string>>;
}

/** The usual names of each special role, per tokenizer kind. */
const ROLE_NAMES: Record<"bpe" | "wordpiece", Record<SpecialTokenRole, string[]>> = {
  bpe: {
    bos: ["<|endoftext|>", "<s>", "<|begin_of_text|>"],
    eos: ["<|endoftext|>", "</s>", "<|end_of_text|>"],
    unk: ["<|endoftext|>", "<unk>"],
    sep: ["</s>", "<sep>"],
    pad: ["<pad>", "<|pad|>"],
    cls: ["<s>", "<cls>"],
    mask: ["<mask>", "<|mask|>"],
  },
  wordpiece: {
    bos: [],
    eos: [],
    unk: ["[UNK]"],
    sep: ["[SEP]"],
    pad: ["[PAD]"],
    cls: ["[CLS]"],
    mask: ["[MASK]"],
  },
};

/** tokenizer_config.json for a trained tokenizer.json, with transformers' keys. */
export function tokenizerConfigFor(
  json: TokenizerJsonObject,
  options: TokenizerFolderOptions,
): Record<string, unknown> {
  const kind = options.kind ?? (json.model.type === "WordPiece" ? "wordpiece" : "bpe");
  const expected = kind === "wordpiece" ? "WordPiece" : "BPE";
  if (json.model.type !== expected) {
    throw new TokenizerError(
      "TOKENIZER_BAD_REQUEST",
      `a ${kind} tokenizer folder needs a ${expected} model, but the tokenizer.json holds a ${json.model.type} model`,
    );
  }
  if (!Number.isInteger(options.modelMaxLength) || options.modelMaxLength < 1) {
    throw new TokenizerError(
      "TOKENIZER_BAD_REQUEST",
      `modelMaxLength must be a positive integer, got ${options.modelMaxLength}`,
    );
  }
  const added = new Set(json.added_tokens.map((t) => t.content));
  const roles: Partial<Record<SpecialTokenRole, string>> = {};
  for (const role of Object.keys(ROLE_NAMES[kind]) as SpecialTokenRole[]) {
    const given = options.specialTokens?.[role];
    if (given !== undefined) {
      if (!added.has(given) && !Object.hasOwn(json.model.vocab, given)) {
        throw new TokenizerError(
          "TOKENIZER_BAD_REQUEST",
          `the ${role} token ${JSON.stringify(given)} is neither an added token nor in the vocabulary`,
        );
      }
      roles[role] = given;
      continue;
    }
    const found = ROLE_NAMES[kind][role].find((name) => added.has(name));
    if (found !== undefined) roles[role] = found;
  }
  const addedTokensDecoder: Record<string, unknown> = {};
  for (const t of json.added_tokens) {
    addedTokensDecoder[String(t.id)] = {
      content: t.content,
      lstrip: t.lstrip,
      normalized: t.normalized,
      rstrip: t.rstrip,
      single_word: t.single_word,
      special: t.special,
    };
  }
  const specials = Object.fromEntries(
    (Object.keys(roles) as SpecialTokenRole[]).map((role) => [`${role}_token`, roles[role]]),
  );
  if (kind === "wordpiece") {
    const normalizer = json.normalizer ?? {};
    return {
      added_tokens_decoder: addedTokensDecoder,
      clean_up_tokenization_spaces: true,
      do_lower_case: normalizer.lowercase !== false,
      model_max_length: options.modelMaxLength,
      strip_accents: typeof normalizer.strip_accents === "boolean" ? normalizer.strip_accents : null,
      tokenize_chinese_chars: normalizer.handle_chinese_chars !== false,
      tokenizer_class: "BertTokenizer",
      ...specials,
    };
  }
  return {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: addedTokensDecoder,
    clean_up_tokenization_spaces: false,
    model_max_length: options.modelMaxLength,
    tokenizer_class: "GPT2Tokenizer",
    ...specials,
  };
}

/**
 * Writes `dir`/tokenizer.json and `dir`/tokenizer_config.json (creating `dir`), each atomically; returns the
 * paths written. The folder loads with `loadTokenizer(dir)` and with transformers' AutoTokenizer.
 */
export function writeTokenizerFolder(
  dir: string,
  json: TokenizerJsonObject,
  options: TokenizerFolderOptions,
): { tokenizerJson: string; tokenizerConfig: string } {
  const config = tokenizerConfigFor(json, options);
  mkdirSync(dir, { recursive: true });
  const tokenizerJson = join(dir, "tokenizer.json");
  const tokenizerConfig = join(dir, "tokenizer_config.json");
  writeFileAtomic(tokenizerJson, tokenizerJsonText(json));
  writeFileAtomic(tokenizerConfig, `${JSON.stringify(config, null, 2)}\n`);
  return { tokenizerJson, tokenizerConfig };
}
