// Hugging Face tokenizer.json (the `tokenizers` library's serialization) mapped onto our three models:
//
//   model.type "WordPiece" (+ BertNormalizer, BertPreTokenizer)             -> WordPieceModel
//   model.type "BPE" with a ByteLevel pre-tokenizer                          -> ByteLevelBpeModel
//   model.type "BPE" with "▁" spaces (Prepend/Replace normalizers or
//   a Metaspace pre-tokenizer), usually with byte_fallback                   -> SentencePieceBpeModel (by rank)
//
// post_processor TemplateProcessing / BertProcessing / RobertaProcessing / ByteLevel becomes the template;
// added_tokens become added tokens. Anything else is rejected with TOKENIZER_UNSUPPORTED naming the part.

import {
  ByteLevelBpeModel,
  PRETOKENIZE_PATTERNS,
  type TextNormalization,
  toJsPattern,
} from "./byte-level-bpe.js";
import { TokenizerError } from "./errors.js";
import { addedTokenFromJson, type HfTokenizerConfig, readJsonFile } from "./hf-config.js";
import { SentencePieceBpeModel } from "./sentencepiece-bpe.js";
import {
  type AddedToken,
  findSpecial,
  type PostProcessor,
  PretrainedTokenizer,
  type SpecialToken,
  type SpecialTokens,
  type TemplateItem,
  type TokenizerModel,
} from "./tokenizer.js";
import { type BertNormalizerOptions, WordPieceModel } from "./wordpiece.js";

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A component and the components nested in it by a Sequence. */
function flatten(component: unknown, listKey: string): Json[] {
  if (!isObject(component)) return [];
  if (component.type === "Sequence" && Array.isArray(component[listKey])) {
    return (component[listKey] as unknown[]).flatMap((c) => flatten(c, listKey));
  }
  return [component];
}

// The regexes of known tokenizer.json Split pre-tokenizers, in the JavaScript spelling of byte-level-bpe.ts
// (JavaScript has no inline (?i:...) group).
const KNOWN_SPLIT_PATTERNS: Record<string, string> = {
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+":
    PRETOKENIZE_PATTERNS.llama3,
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+":
    PRETOKENIZE_PATTERNS.qwen2,
};

function splitPattern(label: string, split: Json): string {
  const pattern = isObject(split.pattern) ? split.pattern : {};
  const regex = typeof pattern.Regex === "string" ? pattern.Regex : undefined;
  if (regex === undefined) {
    throw new TokenizerError(
      "TOKENIZER_UNSUPPORTED",
      `${label}: Split pre-tokenizer without a Regex pattern`,
    );
  }
  const known = KNOWN_SPLIT_PATTERNS[regex];
  if (known !== undefined) return known;
  const translated = toJsPattern(regex);
  try {
    new RegExp(translated, "gu");
  } catch {
    throw new TokenizerError(
      "TOKENIZER_UNSUPPORTED",
      `${label}: the Split pre-tokenizer regex ${JSON.stringify(regex)} is not valid as a JavaScript regex`,
    );
  }
  return translated;
}

function vocabMap(label: string, model: Json): Map<string, number> {
  if (!isObject(model.vocab)) {
    throw new TokenizerError("TOKENIZER_BAD_FILE", `${label}: model.vocab should be an object {token: id}`);
  }
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(model.vocab)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
      throw new TokenizerError(
        "TOKENIZER_BAD_FILE",
        `${label}: model.vocab maps ${JSON.stringify(token)} to ${JSON.stringify(id)}; ids are non-negative integers`,
      );
    }
    vocab.set(token, id);
  }
  return vocab;
}

function vocabArray(vocab: Map<string, number>): string[] {
  const tokens: string[] = [];
  for (const [token, id] of vocab) tokens[id] = token;
  for (let i = 0; i < tokens.length; i++) if (tokens[i] === undefined) tokens[i] = "";
  return tokens;
}

function mergesOf(label: string, model: Json): [string, string][] {
  if (!Array.isArray(model.merges)) {
    throw new TokenizerError("TOKENIZER_BAD_FILE", `${label}: BPE model.merges should be an array`);
  }
  return model.merges.map((merge, i) => {
    if (Array.isArray(merge) && merge.length === 2 && merge.every((m) => typeof m === "string")) {
      return [merge[0], merge[1]] as [string, string];
    }
    if (typeof merge === "string") {
      const at = merge.indexOf(" ", 1);
      if (at > 0) return [merge.slice(0, at), merge.slice(at + 1)] as [string, string];
    }
    throw new TokenizerError(
      "TOKENIZER_BAD_FILE",
      `${label}: merge ${i} is ${JSON.stringify(merge)}; expected "a b" or ["a", "b"]`,
    );
  });
}

function wordPieceModel(label: string, json: Json, model: Json, config?: HfTokenizerConfig) {
  // WordPieceModel does BERT's normalization and pre-tokenization itself; anything else would be ignored.
  for (const pre of flatten(json.pre_tokenizer, "pretokenizers")) {
    if (pre.type !== "BertPreTokenizer") {
      throw new TokenizerError(
        "TOKENIZER_UNSUPPORTED",
        `${label}: pre-tokenizer ${String(pre.type)} with WordPiece; supported: BertPreTokenizer`,
      );
    }
  }
  const normalizers = flatten(json.normalizer, "normalizers");
  for (const n of normalizers) {
    if (n.type !== "BertNormalizer") {
      throw new TokenizerError(
        "TOKENIZER_UNSUPPORTED",
        `${label}: normalizer ${String(n.type)} with WordPiece; supported: BertNormalizer`,
      );
    }
  }
  const bert = normalizers[0];
  const options: BertNormalizerOptions = bert
    ? {
        cleanText: bert.clean_text !== false,
        handleChineseChars: bert.handle_chinese_chars !== false,
        lowercase: bert.lowercase !== false,
        stripAccents: typeof bert.strip_accents === "boolean" ? bert.strip_accents : undefined,
      }
    : { cleanText: false, handleChineseChars: false, lowercase: config?.doLowerCase ?? false };
  const vocab = vocabArray(vocabMap(label, model));
  return new WordPieceModel({
    vocab,
    unkToken: typeof model.unk_token === "string" ? model.unk_token : "[UNK]",
    continuingPrefix:
      typeof model.continuing_subword_prefix === "string" ? model.continuing_subword_prefix : "##",
    maxInputCharsPerWord:
      typeof model.max_input_chars_per_word === "number" ? model.max_input_chars_per_word : 100,
    normalizer: options,
  });
}

function bpeModel(label: string, json: Json, model: Json): TokenizerModel {
  for (const key of ["continuing_subword_prefix", "end_of_word_suffix"]) {
    if (typeof model[key] === "string" && model[key] !== "") {
      throw new TokenizerError("TOKENIZER_UNSUPPORTED", `${label}: BPE ${key} ${JSON.stringify(model[key])}`);
    }
  }
  const vocab = vocabMap(label, model);
  const merges = mergesOf(label, model);
  const unkToken = typeof model.unk_token === "string" ? model.unk_token : undefined;
  const preTokenizers = flatten(json.pre_tokenizer, "pretokenizers");
  const normalizers = flatten(json.normalizer, "normalizers");
  const processors = flatten(json.post_processor, "processors");
  const byteLevel = preTokenizers.find((p) => p.type === "ByteLevel");
  if (byteLevel !== undefined) {
    // Pre-tokenizers in order, each splitting the words of the one before (all "Isolated").
    const patterns: string[] = [];
    for (const pre of preTokenizers) {
      if (pre.type === "Split") {
        if ((pre.behavior !== undefined && pre.behavior !== "Isolated") || pre.invert === true) {
          throw new TokenizerError(
            "TOKENIZER_UNSUPPORTED",
            `${label}: Split pre-tokenizer with behavior ${JSON.stringify(pre.behavior)}${pre.invert ? " inverted" : ""}; only "Isolated" is supported`,
          );
        }
        patterns.push(splitPattern(label, pre));
      } else if (pre.type === "Digits") {
        patterns.push(pre.individual_digits === true ? String.raw`\p{N}` : String.raw`\p{N}+`);
      } else if (pre.type === "ByteLevel") {
        if (pre.use_regex !== false) patterns.push(PRETOKENIZE_PATTERNS.gpt2);
      } else {
        throw new TokenizerError(
          "TOKENIZER_UNSUPPORTED",
          `${label}: pre-tokenizer ${String(pre.type)} before a byte-level BPE; supported: Split, Digits, ByteLevel`,
        );
      }
    }
    const normalizations: TextNormalization[] = [];
    for (const n of normalizers) {
      if (
        n.type === "NFC" ||
        n.type === "NFD" ||
        n.type === "NFKC" ||
        n.type === "NFKD" ||
        n.type === "Lowercase"
      ) {
        normalizations.push(n.type);
      } else {
        throw new TokenizerError(
          "TOKENIZER_UNSUPPORTED",
          `${label}: normalizer ${String(n.type)} with a byte-level BPE; supported: NFC, NFD, NFKC, NFKD, Lowercase`,
        );
      }
    }
    const trim = processors.find((p) => p.type === "ByteLevel" || p.type === "RobertaProcessing");
    return new ByteLevelBpeModel({
      vocab,
      merges,
      patterns,
      normalizers: normalizations,
      addPrefixSpace: byteLevel.add_prefix_space === true,
      trimOffsets: trim?.trim_offsets === true,
      ignoreMerges: model.ignore_merges === true,
      unkToken,
    });
  }
  const metaspace = preTokenizers.find((p) => p.type === "Metaspace");
  const prepend = normalizers.find((n) => n.type === "Prepend");
  const replace = normalizers.find((n) => n.type === "Replace");
  if (metaspace !== undefined || prepend !== undefined || replace !== undefined) {
    const others = preTokenizers.filter((p) => p.type !== "Metaspace");
    if (others.length > 0) {
      throw new TokenizerError(
        "TOKENIZER_UNSUPPORTED",
        `${label}: pre-tokenizer ${String(others[0].type)} with "▁" spaces; supported: Metaspace`,
      );
    }
    for (const n of normalizers) {
      const replacesSpace =
        n.type === "Replace" &&
        isObject(n.pattern) &&
        n.pattern.String === " " &&
        typeof n.content === "string";
      if (n.type !== "Prepend" && !replacesSpace) {
        throw new TokenizerError(
          "TOKENIZER_UNSUPPORTED",
          `${label}: normalizer ${JSON.stringify(n).slice(0, 120)} with "▁" spaces; supported: Prepend and ` +
            'Replace(" " -> "▁")',
        );
      }
    }
    let dummyPrefix: "always" | "first" | "never" = prepend !== undefined ? "always" : "never";
    let spaceSymbol = "\u2581";
    let splitOnSpace = false;
    if (metaspace !== undefined) {
      if (typeof metaspace.replacement === "string") spaceSymbol = metaspace.replacement;
      const scheme = metaspace.prepend_scheme;
      if (scheme === "always" || scheme === "first" || scheme === "never") dummyPrefix = scheme;
      else dummyPrefix = metaspace.add_prefix_space === false ? "never" : "always";
      splitOnSpace = metaspace.split !== false;
    } else if (prepend !== undefined && typeof prepend.prepend === "string") {
      spaceSymbol = prepend.prepend;
    }
    return new SentencePieceBpeModel({
      vocab: vocabArray(vocab),
      merges,
      unkToken,
      byteFallback: model.byte_fallback === true,
      spaceSymbol,
      dummyPrefix,
      splitOnSpace,
    });
  }
  throw new TokenizerError(
    "TOKENIZER_UNSUPPORTED",
    `${label}: BPE without a ByteLevel pre-tokenizer or "▁" spaces (Metaspace/Prepend); only GPT-2-style and ` +
      "SentencePiece-style BPE are supported",
  );
}

function templateFromJson(
  label: string,
  json: Json,
  model: TokenizerModel,
  added: AddedToken[],
): PostProcessor {
  const processors = flatten(json.post_processor, "processors");
  const idOf = (token: string, given?: unknown): number => {
    if (typeof given === "number") return given;
    const found = findSpecial(model, added, token);
    if (found === undefined) {
      throw new TokenizerError(
        "TOKENIZER_BAD_FILE",
        `${label}: post_processor special token ${token} is not in the vocabulary`,
      );
    }
    return found.id;
  };
  const pairOf = (value: unknown, what: string): { special: string; id: number } => {
    if (!Array.isArray(value) || typeof value[0] !== "string") {
      throw new TokenizerError(
        "TOKENIZER_BAD_FILE",
        `${label}: post_processor ${what} should be [token, id]`,
      );
    }
    return { special: value[0], id: idOf(value[0], value[1]) };
  };
  for (const p of processors) {
    if (p.type === "TemplateProcessing") {
      const specials = isObject(p.special_tokens) ? p.special_tokens : {};
      const items = (list: unknown, which: string): TemplateItem[] => {
        if (!Array.isArray(list)) {
          throw new TokenizerError(
            "TOKENIZER_BAD_FILE",
            `${label}: TemplateProcessing.${which} should be an array`,
          );
        }
        return list.flatMap((entry): TemplateItem[] => {
          if (isObject(entry) && isObject(entry.Sequence)) {
            return [
              { sequence: entry.Sequence.id === "B" ? 1 : 0, typeId: Number(entry.Sequence.type_id ?? 0) },
            ];
          }
          if (isObject(entry) && isObject(entry.SpecialToken)) {
            const name = String(entry.SpecialToken.id);
            const typeId = Number(entry.SpecialToken.type_id ?? 0);
            const spec = specials[name];
            if (isObject(spec) && Array.isArray(spec.ids) && Array.isArray(spec.tokens)) {
              return spec.ids.map((id, i) => ({
                special: String((spec.tokens as unknown[])[i]),
                id: Number(id),
                typeId,
              }));
            }
            return [{ special: name, id: idOf(name), typeId }];
          }
          throw new TokenizerError(
            "TOKENIZER_BAD_FILE",
            `${label}: unknown TemplateProcessing item ${JSON.stringify(entry)}`,
          );
        });
      };
      return { single: items(p.single, "single"), pair: items(p.pair, "pair") };
    }
    if (p.type === "BertProcessing") {
      const cls = pairOf(p.cls, "cls");
      const sep = pairOf(p.sep, "sep");
      return {
        single: [
          { ...cls, typeId: 0 },
          { sequence: 0, typeId: 0 },
          { ...sep, typeId: 0 },
        ],
        pair: [
          { ...cls, typeId: 0 },
          { sequence: 0, typeId: 0 },
          { ...sep, typeId: 0 },
          { sequence: 1, typeId: 1 },
          { ...sep, typeId: 1 },
        ],
      };
    }
    if (p.type === "RobertaProcessing") {
      const cls = pairOf(p.cls, "cls");
      const sep = pairOf(p.sep, "sep");
      return {
        single: [
          { ...cls, typeId: 0 },
          { sequence: 0, typeId: 0 },
          { ...sep, typeId: 0 },
        ],
        pair: [
          { ...cls, typeId: 0 },
          { sequence: 0, typeId: 0 },
          { ...sep, typeId: 0 },
          { ...sep, typeId: 0 },
          { sequence: 1, typeId: 0 },
          { ...sep, typeId: 0 },
        ],
      };
    }
  }
  return {
    single: [{ sequence: 0, typeId: 0 }],
    pair: [
      { sequence: 0, typeId: 0 },
      { sequence: 1, typeId: 1 },
    ],
  };
}

/** Builds a tokenizer from a parsed tokenizer.json; `config` (tokenizer_config.json) names the specials. */
export function tokenizerFromJson(
  json: unknown,
  label = "tokenizer.json",
  config?: HfTokenizerConfig,
): PretrainedTokenizer {
  if (!isObject(json)) {
    throw new TokenizerError("TOKENIZER_BAD_FILE", `${label} should hold a JSON object`);
  }
  const model = json.model;
  if (!isObject(model)) {
    throw new TokenizerError(
      "TOKENIZER_BAD_FILE",
      `${label} has no "model" object; it is not a tokenizers-library tokenizer.json (or it is truncated)`,
    );
  }
  // Older files omit model.type; infer it from the fields, as the tokenizers library does.
  const type =
    typeof model.type === "string"
      ? model.type
      : "merges" in model
        ? "BPE"
        : "vocab" in model
          ? "WordPiece"
          : "";
  let tokenizerModel: TokenizerModel;
  if (type === "WordPiece") tokenizerModel = wordPieceModel(label, json, model, config);
  else if (type === "BPE") tokenizerModel = bpeModel(label, json, model);
  else {
    throw new TokenizerError(
      "TOKENIZER_UNSUPPORTED",
      `${label}: model.type ${JSON.stringify(model.type)} is not supported; supported: WordPiece, BPE`,
    );
  }
  const added: AddedToken[] = [];
  if (json.added_tokens !== undefined && json.added_tokens !== null) {
    if (!Array.isArray(json.added_tokens)) {
      throw new TokenizerError("TOKENIZER_BAD_FILE", `${label}: added_tokens should be an array`);
    }
    for (const entry of json.added_tokens) {
      if (!isObject(entry) || typeof entry.id !== "number" || typeof entry.content !== "string") {
        throw new TokenizerError(
          "TOKENIZER_BAD_FILE",
          `${label}: added token ${JSON.stringify(entry)} needs id and content`,
        );
      }
      added.push(addedTokenFromJson(entry.id, entry));
    }
  }
  for (const extra of config?.addedTokens ?? []) if (!added.some((t) => t.id === extra.id)) added.push(extra);
  let postProcessor = templateFromJson(label, json, tokenizerModel, added);
  const specials = specialTokensFor(tokenizerModel, added, postProcessor, config, model);
  // transformers' LlamaTokenizerFast (and Gemma's) rebuilds the template from add_bos_token/add_eos_token.
  if (config !== undefined && /Llama|Gemma/.test(config.tokenizerClass ?? "")) {
    postProcessor = bosEosTemplate(
      (config.addBosToken ?? true) ? specials.bos : undefined,
      (config.addEosToken ?? false) ? specials.eos : undefined,
    );
  }
  return new PretrainedTokenizer({
    model: tokenizerModel,
    addedTokens: added,
    postProcessor,
    specialTokens: specials,
    cleanUpTokenizationSpaces: config?.cleanUpTokenizationSpaces ?? tokenizerModel.kind === "wordpiece",
    modelMaxLength: config?.modelMaxLength,
  });
}

/** bos? A eos? (bos? B eos?), B with type id 1, as LlamaTokenizerFast.update_post_processor. */
function bosEosTemplate(bos: SpecialToken | undefined, eos: SpecialToken | undefined): PostProcessor {
  const around = (sequence: 0 | 1): TemplateItem[] => [
    ...(bos ? [{ special: bos.token, id: bos.id, typeId: sequence }] : []),
    { sequence, typeId: sequence },
    ...(eos ? [{ special: eos.token, id: eos.id, typeId: sequence }] : []),
  ];
  return { single: around(0), pair: [...around(0), ...around(1)] };
}

/** Special tokens from the config when given, else the usual names for the model kind. */
function specialTokensFor(
  model: TokenizerModel,
  added: AddedToken[],
  template: PostProcessor,
  config: HfTokenizerConfig | undefined,
  modelJson: Json,
): SpecialTokens {
  const find = (configured: string | undefined, ...defaults: string[]) => {
    if (configured !== undefined) return findSpecial(model, added, configured);
    for (const name of defaults) {
      const found = findSpecial(model, added, name);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const firstSpecial = template.single.find((i) => "special" in i) as { special: string } | undefined;
  const lastSpecial = [...template.single].reverse().find((i) => "special" in i) as
    | { special: string }
    | undefined;
  const unk = typeof modelJson.unk_token === "string" ? modelJson.unk_token : undefined;
  if (model.kind === "wordpiece") {
    return {
      unk: find(config?.unkToken, unk ?? "[UNK]"),
      cls: find(config?.clsToken, firstSpecial?.special ?? "[CLS]", "[CLS]"),
      sep: find(config?.sepToken, lastSpecial?.special ?? "[SEP]", "[SEP]"),
      pad: find(config?.padToken, "[PAD]"),
      mask: find(config?.maskToken, "[MASK]"),
    };
  }
  return {
    bos: find(config?.bosToken, "<s>", "<|begin_of_text|>", "<|endoftext|>"),
    eos: find(config?.eosToken, "</s>", "<|end_of_text|>", "<|endoftext|>"),
    unk: find(config?.unkToken, ...(unk !== undefined ? [unk] : [])),
    pad: find(config?.padToken, "<pad>"),
    sep: find(config?.sepToken, ...(lastSpecial ? [lastSpecial.special] : [])),
    cls: find(config?.clsToken, ...(firstSpecial ? [firstSpecial.special] : [])),
    mask: find(config?.maskToken, "<mask>"),
  };
}

/** Reads and builds a tokenizer.json file. */
export function readTokenizerJson(path: string, config?: HfTokenizerConfig): PretrainedTokenizer {
  return tokenizerFromJson(readJsonFile(path), path, config);
}
