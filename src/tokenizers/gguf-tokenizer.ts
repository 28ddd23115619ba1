// A tokenizer from the `tokenizer.ggml.*` metadata of a GGUF file, with llama.cpp's reading of it
// (llama-vocab.cpp): "gpt2" -> byte-level BPE with the pre-tokenizer named by `tokenizer.ggml.pre`,
// "bert" -> WordPiece over a vocabulary written with "▁" word starts, "llama" -> SentencePiece BPE merging
// by score with byte fallback and a dummy-prefix space.
//
// Token types (`tokenizer.ggml.token_type`): 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused,
// 6 byte. Control and unknown tokens become special added tokens (matched in text only with
// parseSpecialTokens, as llama.cpp's parse_special), user-defined ones become plain added tokens (always
// matched). llama.cpp's defaults apply when a key is absent.

import { type GgufFile, type GgufTokenizerMetadata, ggufTokenizerMetadata, readGguf } from "../io/gguf.js";
import { ByteLevelBpeModel, PRETOKENIZE_PATTERNS, parseMergeLines, toJsPattern } from "./byte-level-bpe.js";
import { TokenizerError } from "./errors.js";
import { SentencePieceBpeModel } from "./sentencepiece-bpe.js";
import {
  type AddedToken,
  type PostProcessor,
  PretrainedTokenizer,
  type SpecialToken,
  type SpecialTokens,
  type TemplateItem,
} from "./tokenizer.js";
import { WordPieceModel } from "./wordpiece.js";

const TOKEN_TYPE_UNKNOWN = 2;
const TOKEN_TYPE_CONTROL = 3;
const TOKEN_TYPE_USER_DEFINED = 4;

/**
 * llama.cpp's `tokenizer.ggml.pre` names and the regexes each selects (llm_tokenizer_bpe). Several regexes
 * apply in turn, each splitting the words of the one before into matches and the text between them, as
 * llama.cpp's unicode_regex_split does.
 */
interface PreTokenizer {
  patterns: string[];
  ignoreMerges?: boolean;
  addBos?: boolean;
}
// llama.cpp's GPT-2 regex, spelled without the final "|\s+" (text it leaves is kept as words anyway).
const GPT2_NO_FALLBACK = toJsPattern(
  String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`,
);
const PRE_TOKENIZERS: Record<string, PreTokenizer> = {};
const family = (names: string[], pre: PreTokenizer): void => {
  for (const name of names) PRE_TOKENIZERS[name] = pre;
};
family(
  [
    "gpt-2",
    "phi-2",
    "jina-es",
    "jina-de",
    "gigachat",
    "jina-v1-en",
    "jina-v2-es",
    "jina-v2-de",
    "jina-v2-code",
  ],
  { patterns: [PRETOKENIZE_PATTERNS.gpt2] },
);
family(["roberta-bpe", "mpt", "olmo", "jais"], { patterns: [PRETOKENIZE_PATTERNS.gpt2] });
family(["llama3", "llama-v3", "llama-bpe", "falcon3"], {
  patterns: [PRETOKENIZE_PATTERNS.llama3],
  ignoreMerges: true,
  addBos: true,
});
family(["dbrx", "smaug-bpe"], { patterns: [PRETOKENIZE_PATTERNS.llama3] });
family(["qwen2", "stablelm2", "megrez"], { patterns: [PRETOKENIZE_PATTERNS.qwen2] });
family(["starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"], {
  patterns: [String.raw`\p{N}`, GPT2_NO_FALLBACK],
});
family(["falcon"], {
  patterns: [String.raw`[\p{P}\$\+<=>\^~\|\x60]+`, GPT2_NO_FALLBACK, "[0-9][0-9][0-9]"],
});
family(["default"], {
  patterns: [String.raw`[\p{P}\$\+<=>\^~\|]+`, GPT2_NO_FALLBACK, String.raw`\p{N}+`, "[0-9][0-9][0-9]"],
});

function special(meta: GgufTokenizerMetadata, id: number | undefined): SpecialToken | undefined {
  return id === undefined ? undefined : { token: meta.tokens[id], id };
}

function addedTokensOf(meta: GgufTokenizerMetadata, specialIds: (number | undefined)[]): AddedToken[] {
  const added = new Map<number, AddedToken>();
  const types = meta.tokenTypes ?? [];
  for (let id = 0; id < types.length; id++) {
    const type = types[id];
    if (type === TOKEN_TYPE_CONTROL || type === TOKEN_TYPE_UNKNOWN) {
      added.set(id, { id, content: meta.tokens[id], special: true });
    } else if (type === TOKEN_TYPE_USER_DEFINED) {
      added.set(id, { id, content: meta.tokens[id], special: false });
    }
  }
  // llama.cpp treats the declared special tokens as control tokens even when typed "normal"
  // (GPT-2's <|endoftext|>).
  for (const id of specialIds) {
    if (id !== undefined && !added.has(id)) added.set(id, { id, content: meta.tokens[id], special: true });
  }
  return [...added.values()];
}

function template(
  before: SpecialToken[],
  after: SpecialToken[],
  between: SpecialToken[],
  pairTypeId: number,
) {
  const item = (t: SpecialToken, typeId: number): TemplateItem => ({ special: t.token, id: t.id, typeId });
  const single: TemplateItem[] = [
    ...before.map((t) => item(t, 0)),
    { sequence: 0, typeId: 0 },
    ...after.map((t) => item(t, 0)),
  ];
  const pair: TemplateItem[] = [
    ...single,
    ...between.map((t) => item(t, pairTypeId)),
    { sequence: 1, typeId: pairTypeId },
    ...after.map((t) => item(t, pairTypeId)),
  ];
  return { single, pair } satisfies PostProcessor;
}

/** Builds a tokenizer from GGUF metadata (a parsed file, or a path read with readGguf). */
export function tokenizerFromGguf(source: GgufFile | string): PretrainedTokenizer {
  const file = typeof source === "string" ? readGguf(source) : source;
  const meta = ggufTokenizerMetadata(file);
  switch (meta.model) {
    case "gpt2":
      return byteLevelFromGguf(meta);
    case "bert":
      return wordPieceFromGguf(meta);
    case "llama":
      return sentencePieceFromGguf(meta);
    default:
      throw new TokenizerError(
        "TOKENIZER_UNSUPPORTED",
        `GGUF tokenizer.ggml.model is "${meta.model}"; supported: "gpt2" (byte-level BPE), "bert" (WordPiece), ` +
          '"llama" (SentencePiece BPE)',
      );
  }
}

function byteLevelFromGguf(meta: GgufTokenizerMetadata): PretrainedTokenizer {
  const preName = meta.pre ?? "default";
  const pre = PRE_TOKENIZERS[preName];
  if (pre === undefined) {
    throw new TokenizerError(
      "TOKENIZER_UNSUPPORTED",
      `GGUF pre-tokenizer "${preName}" is not supported; supported: ${Object.keys(PRE_TOKENIZERS).join(", ")}`,
    );
  }
  if (meta.merges === undefined) {
    throw new TokenizerError("TOKENIZER_BAD_FILE", 'GGUF "gpt2" tokenizer has no tokenizer.ggml.merges');
  }
  const vocab = new Map<string, number>();
  meta.tokens.forEach((token, id) => {
    if (!vocab.has(token)) vocab.set(token, id);
  });
  const model = new ByteLevelBpeModel({
    vocab,
    merges: parseMergeLines(meta.merges, "GGUF tokenizer.ggml.merges"),
    patterns: pre.patterns,
    ignoreMerges: pre.ignoreMerges ?? false,
  });
  // llama.cpp's defaults for "gpt2" vocabularies: BOS = EOS = 11 unless the file says otherwise.
  const specials: SpecialTokens = {
    bos: special(meta, meta.bosTokenId),
    eos: special(meta, meta.eosTokenId),
    unk: special(meta, meta.unkTokenId),
    pad: special(meta, meta.padTokenId),
  };
  const addBos = meta.addBosToken ?? pre.addBos ?? false;
  const addEos = meta.addEosToken ?? false;
  return new PretrainedTokenizer({
    model,
    addedTokens: addedTokensOf(meta, [meta.bosTokenId, meta.eosTokenId, meta.unkTokenId, meta.padTokenId]),
    specialTokens: specials,
    postProcessor: template(
      addBos && specials.bos ? [specials.bos] : [],
      addEos && specials.eos ? [specials.eos] : [],
      addBos && specials.bos ? [specials.bos] : [],
      0,
    ),
  });
}

function wordPieceFromGguf(meta: GgufTokenizerMetadata): PretrainedTokenizer {
  // llama.cpp's defaults for "bert": CLS/BOS 101, UNK 100, SEP 102, PAD 0, MASK 103.
  const id = (value: number | undefined, fallback: number): number | undefined =>
    value ?? (fallback < meta.tokens.length ? fallback : undefined);
  const unkId = id(meta.unkTokenId, 100);
  if (unkId === undefined) {
    throw new TokenizerError("TOKENIZER_BAD_FILE", "GGUF bert tokenizer has no unknown token");
  }
  const model = new WordPieceModel({
    vocab: meta.tokens,
    unkToken: meta.tokens[unkId],
    wordStartPrefix: "\u2581",
    continuingPrefix: "",
    normalizer: { cleanText: true, handleChineseChars: true, lowercase: true },
  });
  const specials: SpecialTokens = {
    cls: special(meta, id(meta.clsTokenId ?? meta.bosTokenId, 101)),
    sep: special(meta, id(meta.sepTokenId, 102)),
    unk: special(meta, unkId),
    pad: special(meta, id(meta.padTokenId, 0)),
    mask: special(meta, id(meta.maskTokenId, 103)),
  };
  const { cls, sep } = specials;
  return new PretrainedTokenizer({
    model,
    addedTokens: addedTokensOf(
      meta,
      Object.values(specials).map((s) => s?.id),
    ),
    specialTokens: specials,
    cleanUpTokenizationSpaces: true,
    postProcessor: cls && sep ? template([cls], [sep], [], 1) : template([], [], [], 1),
  });
}

function sentencePieceFromGguf(meta: GgufTokenizerMetadata): PretrainedTokenizer {
  if (meta.scores === undefined) {
    throw new TokenizerError("TOKENIZER_BAD_FILE", 'GGUF "llama" tokenizer has no tokenizer.ggml.scores');
  }
  const id = (value: number | undefined, fallback: number): number | undefined =>
    value ?? (fallback < meta.tokens.length ? fallback : undefined);
  const specials: SpecialTokens = {
    bos: special(meta, id(meta.bosTokenId, 1)),
    eos: special(meta, id(meta.eosTokenId, 2)),
    unk: special(meta, id(meta.unkTokenId, 0)),
    pad: special(meta, meta.padTokenId),
  };
  const model = new SentencePieceBpeModel({
    vocab: meta.tokens,
    scores: meta.scores,
    unkToken: specials.unk?.token,
    byteFallback: true,
    dummyPrefix: (meta.addSpacePrefix ?? true) ? "always" : "never",
  });
  const addBos = meta.addBosToken ?? true;
  const addEos = meta.addEosToken ?? false;
  return new PretrainedTokenizer({
    model,
    addedTokens: addedTokensOf(
      meta,
      Object.values(specials).map((s) => s?.id),
    ),
    specialTokens: specials,
    postProcessor: template(
      addBos && specials.bos ? [specials.bos] : [],
      addEos && specials.eos ? [specials.eos] : [],
      addBos && specials.bos ? [specials.bos] : [],
      1,
    ),
  });
}
