// The one Tokenizer interface and the pipeline every tokenizer shares:
//
//   text ─► split out added tokens ([CLS], <|endoftext|>, ...) ─► model.tokenize each remaining segment
//        ─► truncation ─► post-processor template (specials, token type ids) ─► padding
//
// A "model" (wordpiece.ts, byte-level-bpe.ts, sentencepiece-bpe.ts) only turns a piece of plain text into
// tokens with offsets and turns tokens back into text; everything else lives here, once. Plain arrays in and
// out: the tokenizers do not depend on the tensor engine.
//
// Offsets are [start, end) indices into the JavaScript string that was encoded (UTF-16 code units), so
// `text.slice(start, end)` is the token's source; they equal Python's code-point offsets for text without
// characters outside the Basic Multilingual Plane. Special tokens added by the template get [0, 0].

import { TokenizerError } from "./errors.js";

export type TokenizerKind = "wordpiece" | "byte-level-bpe" | "sentencepiece-bpe";

/** A token of one sequence before the template is applied. */
export interface Piece {
  id: number;
  token: string;
  start: number;
  end: number;
}

/** What a tokenizer model implements: plain text <-> tokens, nothing about specials, pairs or padding. */
export interface TokenizerModel {
  readonly kind: TokenizerKind;
  readonly vocabSize: number;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /**
   * Tokenizes `text.slice(start, end)`, a segment holding no added token. Offsets in the result index `text`.
   * `firstSegment` is true for the segment at the very start of the sequence (SentencePiece's dummy prefix).
   */
  tokenize(text: string, start: number, end: number, firstSegment: boolean): Piece[];
  /** Turns tokens back into text; `added[i]` marks added tokens whose content is copied verbatim. */
  decode(tokens: readonly string[], added: readonly boolean[]): string;
}

/** A token matched in the raw text before the model runs (Hugging Face's added tokens). */
export interface AddedToken {
  id: number;
  content: string;
  /** Special tokens are skipped by `decode(ids, { skipSpecialTokens: true })` and marked in specialTokensMask. */
  special: boolean;
  /** Swallow whitespace on the left / right of the match. */
  lstrip?: boolean;
  rstrip?: boolean;
  /** Only match when not inside a word. */
  singleWord?: boolean;
}

/** One element of a post-processing template: a special token, or the first/second sequence. */
export type TemplateItem =
  | { special: string; id: number; typeId: number }
  | { sequence: 0 | 1; typeId: number };

/** Hugging Face's TemplateProcessing: what wraps a single sequence and a pair. */
export interface PostProcessor {
  single: TemplateItem[];
  pair: TemplateItem[];
}

export interface SpecialToken {
  token: string;
  id: number;
}

export interface SpecialTokens {
  bos?: SpecialToken;
  eos?: SpecialToken;
  unk?: SpecialToken;
  sep?: SpecialToken;
  pad?: SpecialToken;
  cls?: SpecialToken;
  mask?: SpecialToken;
}

export type TruncationStrategy = "longest_first" | "only_first" | "only_second";

export interface EncodeOptions {
  /** Second sequence of a pair (question/context, premise/hypothesis); its tokens get type id 1 (BERT). */
  pair?: string;
  /** Add the template's special tokens ([CLS] ... [SEP], <s> ...). Default true. */
  addSpecialTokens?: boolean;
  /** Match special added tokens ([CLS], <s>, ...) written in the text. Default true, as Hugging Face. */
  parseSpecialTokens?: boolean;
  /** Length limit for truncation and for padding: "max_length", special tokens included. */
  maxLength?: number;
  /** true means "longest_first". Default false. */
  truncation?: boolean | TruncationStrategy;
  /** Which end loses tokens. Default "right". */
  truncationSide?: "left" | "right";
  /** true or "longest": pad to the longest in the batch; "max_length": pad to maxLength. Default false. */
  padding?: boolean | "longest" | "max_length";
  paddingSide?: "left" | "right";
  padToMultipleOf?: number;
  /**
   * Keep what truncation cuts, as further windows in `overflowing` (long contexts in extractive QA: use
   * truncation "only_second" so that the question is repeated in every window of the context).
   */
  returnOverflowing?: boolean;
  /** Tokens shared by consecutive overflow windows. Default 0. */
  stride?: number;
}

export interface Encoding {
  ids: number[];
  tokens: string[];
  /** [start, end) into the encoded text (the first text for sequence 0, `pair` for sequence 1). */
  offsets: [number, number][];
  typeIds: number[];
  attentionMask: number[];
  specialTokensMask: number[];
  /** 0 or 1 for tokens of the first or second sequence, null for specials and padding. */
  sequenceIds: (number | null)[];
  /** With returnOverflowing: the further windows that truncation would have dropped. */
  overflowing?: Encoding[];
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
  /** Hugging Face's clean_up_tokenization_spaces (" ." -> ".", " 's" -> "'s", ...). Default: the tokenizer's. */
  cleanUpTokenizationSpaces?: boolean;
}

export interface Tokenizer {
  readonly kind: TokenizerKind;
  /** Vocabulary size including added tokens. */
  readonly vocabSize: number;
  readonly specialTokens: SpecialTokens;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly unkTokenId: number | undefined;
  readonly sepTokenId: number | undefined;
  readonly padTokenId: number | undefined;
  readonly clsTokenId: number | undefined;
  readonly maskTokenId: number | undefined;
  /** model_max_length from tokenizer_config.json, when known. */
  readonly modelMaxLength: number | undefined;
  encode(text: string, options?: EncodeOptions): Encoding;
  /** Encodes many texts (or [text, pair] tuples); padding "longest" pads to the longest of the batch. */
  encodeBatch(inputs: readonly (string | readonly [string, string])[], options?: EncodeOptions): Encoding[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
}

export interface PretrainedTokenizerConfig {
  model: TokenizerModel;
  addedTokens?: AddedToken[];
  postProcessor?: PostProcessor;
  specialTokens?: SpecialTokens;
  cleanUpTokenizationSpaces?: boolean;
  modelMaxLength?: number;
}

const NO_TEMPLATE: PostProcessor = {
  single: [{ sequence: 0, typeId: 0 }],
  pair: [
    { sequence: 0, typeId: 0 },
    { sequence: 1, typeId: 1 },
  ],
};

const WHITESPACE = /\s/u;
const WORD_CHAR = /[\p{L}\p{N}_]/u;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Hugging Face's clean_up_tokenization. */
export function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(" .", ".")
    .replaceAll(" ?", "?")
    .replaceAll(" !", "!")
    .replaceAll(" ,", ",")
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

interface SequencePieces {
  pieces: Piece[];
  special: boolean[];
}

/** The shared implementation of Tokenizer over any TokenizerModel. */
export class PretrainedTokenizer implements Tokenizer {
  readonly model: TokenizerModel;
  readonly addedTokens: readonly AddedToken[];
  readonly postProcessor: PostProcessor;
  readonly specialTokens: SpecialTokens;
  readonly cleanUpTokenizationSpaces: boolean;
  readonly modelMaxLength: number | undefined;
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly specialIds = new Set<number>();
  private readonly matchAll: RegExp | undefined;
  private readonly matchNonSpecial: RegExp | undefined;

  constructor(config: PretrainedTokenizerConfig) {
    this.model = config.model;
    this.addedTokens = (config.addedTokens ?? []).filter((t) => t.content.length > 0);
    this.postProcessor = config.postProcessor ?? NO_TEMPLATE;
    this.specialTokens = config.specialTokens ?? {};
    this.cleanUpTokenizationSpaces = config.cleanUpTokenizationSpaces ?? false;
    this.modelMaxLength = config.modelMaxLength;
    for (const token of this.addedTokens) {
      this.addedById.set(token.id, token);
      this.addedByContent.set(token.content, token);
      if (token.special) this.specialIds.add(token.id);
    }
    for (const special of Object.values(this.specialTokens) as (SpecialToken | undefined)[]) {
      if (special !== undefined) this.specialIds.add(special.id);
    }
    for (const items of [this.postProcessor.single, this.postProcessor.pair]) {
      for (const item of items) if ("special" in item) this.specialIds.add(item.id);
    }
    const pattern = (tokens: AddedToken[]): RegExp | undefined =>
      tokens.length === 0
        ? undefined
        : new RegExp(
            tokens
              .map((t) => t.content)
              .sort((a, b) => b.length - a.length)
              .map(escapeRegExp)
              .join("|"),
            "gu",
          );
    this.matchAll = pattern(this.addedTokens.slice());
    this.matchNonSpecial = pattern(this.addedTokens.filter((t) => !t.special));
  }

  get kind(): TokenizerKind {
    return this.model.kind;
  }

  get vocabSize(): number {
    let size = this.model.vocabSize;
    for (const id of this.addedById.keys()) size = Math.max(size, id + 1);
    return size;
  }

  get bosTokenId(): number | undefined {
    return this.specialTokens.bos?.id;
  }
  get eosTokenId(): number | undefined {
    return this.specialTokens.eos?.id;
  }
  get unkTokenId(): number | undefined {
    return this.specialTokens.unk?.id;
  }
  get sepTokenId(): number | undefined {
    return this.specialTokens.sep?.id;
  }
  get padTokenId(): number | undefined {
    return this.specialTokens.pad?.id;
  }
  get clsTokenId(): number | undefined {
    return this.specialTokens.cls?.id;
  }
  get maskTokenId(): number | undefined {
    return this.specialTokens.mask?.id;
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.model.tokenToId(token);
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.model.idToToken(id);
  }

  /** Tokenizes one sequence: added tokens are matched in the raw text first, the model does the rest. */
  private tokenizeSequence(text: string, parseSpecial: boolean): SequencePieces {
    const pieces: Piece[] = [];
    const special: boolean[] = [];
    const matcher = parseSpecial ? this.matchAll : this.matchNonSpecial;
    let cursor = 0;
    let firstSegment = true;
    const emitSegment = (end: number): void => {
      if (end > cursor) {
        for (const piece of this.model.tokenize(text, cursor, end, firstSegment)) {
          pieces.push(piece);
          special.push(false);
        }
      }
      firstSegment = false;
    };
    if (matcher !== undefined) {
      matcher.lastIndex = 0;
      for (let match = matcher.exec(text); match !== null; match = matcher.exec(text)) {
        const token = this.addedByContent.get(match[0])!;
        const start = match.index;
        const end = start + match[0].length;
        if (token.singleWord) {
          const before = start > 0 ? text[start - 1] : "";
          const after = end < text.length ? text[end] : "";
          if ((before !== "" && WORD_CHAR.test(before)) || (after !== "" && WORD_CHAR.test(after))) continue;
        }
        let segmentEnd = start;
        if (token.lstrip) while (segmentEnd > cursor && WHITESPACE.test(text[segmentEnd - 1])) segmentEnd--;
        emitSegment(segmentEnd);
        pieces.push({ id: token.id, token: token.content, start, end });
        special.push(token.special);
        cursor = end;
        if (token.rstrip) while (cursor < text.length && WHITESPACE.test(text[cursor])) cursor++;
        matcher.lastIndex = cursor;
      }
    }
    emitSegment(text.length);
    return { pieces, special };
  }

  /** How many tokens of each sequence truncation keeps (all of them when no truncation is asked for). */
  private truncationPlan(
    n1: number,
    n2: number | undefined,
    options: EncodeOptions,
    addSpecial: boolean,
  ): { keep1: number; keep2: number; strategy: TruncationStrategy } | undefined {
    if (!options.truncation || options.maxLength === undefined) return undefined;
    const strategy: TruncationStrategy = options.truncation === true ? "longest_first" : options.truncation;
    const template = n2 === undefined ? this.postProcessor.single : this.postProcessor.pair;
    const specials = addSpecial ? template.filter((item) => "special" in item).length : 0;
    const budget = options.maxLength - specials;
    if (budget < 0) {
      throw new TokenizerError(
        "TOKENIZER_BAD_REQUEST",
        `maxLength ${options.maxLength} is smaller than the ${specials} special tokens the template adds; ` +
          "raise maxLength or pass addSpecialTokens: false",
      );
    }
    const second = n2 ?? 0;
    let keep1 = n1;
    let keep2 = second;
    if (n1 + second <= budget) return { keep1, keep2, strategy };
    if (n2 === undefined || strategy === "only_first") {
      keep1 = budget - second;
      if (keep1 < 0) {
        throw new TokenizerError(
          "TOKENIZER_BAD_REQUEST",
          `cannot truncate to maxLength ${options.maxLength} with "only_first": the second sequence alone has ` +
            `${second} tokens; use "longest_first" or a larger maxLength`,
        );
      }
    } else if (strategy === "only_second") {
      keep2 = budget - n1;
      if (keep2 < 0) {
        throw new TokenizerError(
          "TOKENIZER_BAD_REQUEST",
          `cannot truncate to maxLength ${options.maxLength} with "only_second": the first sequence alone has ` +
            `${n1} tokens; use "longest_first" or a larger maxLength`,
        );
      }
    } else {
      // longest_first: drop one token at a time from the longer sequence (the second one on ties), as
      // transformers' truncate_sequences does.
      while (keep1 + keep2 > budget) {
        if (keep1 > keep2) keep1--;
        else keep2--;
      }
    }
    return { keep1, keep2, strategy };
  }

  /**
   * The [start, end) windows of a sequence of `length` tokens that keep `keep` tokens each: one window
   * without overflow; with overflow, windows that advance by keep - stride until the end is covered
   * (tokenizers' Encoding::truncate). The first window is the one plain truncation keeps.
   */
  private windows(length: number, keep: number, options: EncodeOptions): [number, number][] {
    const left = options.truncationSide === "left";
    const window = (start: number, stop: number): [number, number] =>
      left ? [length - stop, length - start] : [start, stop];
    if (keep >= length) return [[0, length]];
    if (!options.returnOverflowing) return [window(0, keep)];
    const stride = options.stride ?? 0;
    if (!(stride >= 0 && stride < keep)) {
      throw new TokenizerError(
        "TOKENIZER_BAD_REQUEST",
        `stride ${stride} must be at least 0 and below the ${keep} tokens each window keeps; lower the stride`,
      );
    }
    const ranges: [number, number][] = [];
    for (let start = 0; ; start += keep - stride) {
      const stop = Math.min(start + keep, length);
      ranges.push(window(start, stop));
      if (stop === length) return ranges;
    }
  }

  /** Applies the template to (windows of) the sequences. */
  private assemble(sequences: SequencePieces[], addSpecial: boolean): Encoding {
    const encoding: Encoding = {
      ids: [],
      tokens: [],
      offsets: [],
      typeIds: [],
      attentionMask: [],
      specialTokensMask: [],
      sequenceIds: [],
    };
    const paired = sequences.length > 1;
    const templates = addSpecial ? this.postProcessor : NO_TEMPLATE;
    for (const item of paired ? templates.pair : templates.single) {
      if ("special" in item) {
        encoding.ids.push(item.id);
        encoding.tokens.push(item.special);
        encoding.offsets.push([0, 0]);
        encoding.typeIds.push(item.typeId);
        encoding.attentionMask.push(1);
        encoding.specialTokensMask.push(1);
        encoding.sequenceIds.push(null);
        continue;
      }
      const seq = sequences[item.sequence];
      if (seq === undefined) continue;
      for (let i = 0; i < seq.pieces.length; i++) {
        const piece = seq.pieces[i];
        encoding.ids.push(piece.id);
        encoding.tokens.push(piece.token);
        encoding.offsets.push([piece.start, piece.end]);
        encoding.typeIds.push(item.typeId);
        encoding.attentionMask.push(1);
        encoding.specialTokensMask.push(seq.special[i] ? 1 : 0);
        encoding.sequenceIds.push(item.sequence);
      }
    }
    return encoding;
  }

  private encodeUnpadded(text: string, pair: string | undefined, options: EncodeOptions): Encoding {
    const addSpecial = options.addSpecialTokens ?? true;
    const parseSpecial = options.parseSpecialTokens ?? true;
    const first = this.tokenizeSequence(text, parseSpecial);
    const second = pair === undefined ? undefined : this.tokenizeSequence(pair, parseSpecial);
    const plan = this.truncationPlan(first.pieces.length, second?.pieces.length, options, addSpecial);
    if (plan === undefined) return this.assemble(second ? [first, second] : [first], addSpecial);
    const slice = (seq: SequencePieces, [start, stop]: [number, number]): SequencePieces => ({
      pieces: seq.pieces.slice(start, stop),
      special: seq.special.slice(start, stop),
    });
    const firstWindows = this.windows(first.pieces.length, plan.keep1, options);
    const secondWindows = second ? this.windows(second.pieces.length, plan.keep2, options) : [];
    if (firstWindows.length > 1 && secondWindows.length > 1) {
      throw new TokenizerError(
        "TOKENIZER_BAD_REQUEST",
        'returnOverflowing with both sequences truncated: use truncation "only_second" (or "only_first") so ' +
          "that one sequence is windowed and the other kept whole",
      );
    }
    const encodings: Encoding[] = [];
    if (second === undefined) {
      for (const w of firstWindows) encodings.push(this.assemble([slice(first, w)], addSpecial));
    } else if (secondWindows.length > 1) {
      const kept = slice(first, firstWindows[0]);
      for (const w of secondWindows) encodings.push(this.assemble([kept, slice(second, w)], addSpecial));
    } else {
      const kept = slice(second, secondWindows[0]);
      for (const w of firstWindows) encodings.push(this.assemble([slice(first, w), kept], addSpecial));
    }
    const [main, ...overflowing] = encodings;
    if (options.returnOverflowing) main.overflowing = overflowing;
    return main;
  }

  private pad(encoding: Encoding, length: number, options: EncodeOptions): void {
    for (const extra of encoding.overflowing ?? []) this.pad(extra, length, options);
    const missing = length - encoding.ids.length;
    if (missing <= 0) return;
    const pad = this.specialTokens.pad;
    if (pad === undefined) {
      throw new TokenizerError(
        "TOKENIZER_BAD_REQUEST",
        "padding requested but this tokenizer has no pad token; set one (e.g. reuse the EOS token) or disable padding",
      );
    }
    const left = options.paddingSide === "left";
    const fill = <T>(values: T[], make: () => T): T[] => {
      const extra = Array.from({ length: missing }, make);
      return left ? extra.concat(values) : values.concat(extra);
    };
    encoding.ids = fill(encoding.ids, () => pad.id);
    encoding.tokens = fill(encoding.tokens, () => pad.token);
    encoding.offsets = fill(encoding.offsets, (): [number, number] => [0, 0]);
    encoding.typeIds = fill(encoding.typeIds, () => 0);
    encoding.attentionMask = fill(encoding.attentionMask, () => 0);
    encoding.specialTokensMask = fill(encoding.specialTokensMask, () => 1);
    encoding.sequenceIds = fill(encoding.sequenceIds, (): number | null => null);
  }

  private targetLength(longest: number, options: EncodeOptions): number | undefined {
    let target: number | undefined;
    if (options.padding === "max_length") {
      if (options.maxLength === undefined) {
        throw new TokenizerError("TOKENIZER_BAD_REQUEST", 'padding "max_length" needs maxLength');
      }
      target = options.maxLength;
    } else if (options.padding === true || options.padding === "longest") {
      target = longest;
    }
    if (target !== undefined && options.padToMultipleOf !== undefined && options.padToMultipleOf > 0) {
      target = Math.ceil(target / options.padToMultipleOf) * options.padToMultipleOf;
    }
    return target;
  }

  encode(text: string, options: EncodeOptions = {}): Encoding {
    const encoding = this.encodeUnpadded(text, options.pair, options);
    const longest = Math.max(encoding.ids.length, ...(encoding.overflowing ?? []).map((e) => e.ids.length));
    const target = this.targetLength(longest, options);
    if (target !== undefined) this.pad(encoding, target, options);
    return encoding;
  }

  encodeBatch(
    inputs: readonly (string | readonly [string, string])[],
    options: EncodeOptions = {},
  ): Encoding[] {
    const encodings = inputs.map((input) =>
      typeof input === "string"
        ? this.encodeUnpadded(input, options.pair, options)
        : this.encodeUnpadded(input[0], input[1], options),
    );
    let longest = 0;
    for (const e of encodings) {
      for (const part of [e, ...(e.overflowing ?? [])]) longest = Math.max(longest, part.ids.length);
    }
    const target = this.targetLength(longest, options);
    if (target !== undefined) for (const encoding of encodings) this.pad(encoding, target, options);
    return encodings;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const tokens: string[] = [];
    const added: boolean[] = [];
    for (const id of ids) {
      if (options.skipSpecialTokens && this.specialIds.has(id)) continue;
      const addedToken = this.addedById.get(id);
      const token = addedToken?.content ?? this.model.idToToken(id);
      if (token === undefined) {
        throw new TokenizerError(
          "TOKENIZER_BAD_REQUEST",
          `cannot decode token id ${id}: the vocabulary has ids 0..${this.vocabSize - 1}`,
        );
      }
      tokens.push(token);
      added.push(addedToken !== undefined);
    }
    const text = this.model.decode(tokens, added);
    const cleanUp = options.cleanUpTokenizationSpaces ?? this.cleanUpTokenizationSpaces;
    return cleanUp ? cleanUpTokenization(text) : text;
  }
}

/** Looks up a special token by its text; undefined when the text is not in the vocabulary. */
export function findSpecial(model: TokenizerModel, added: readonly AddedToken[], token: string | undefined) {
  if (token === undefined) return undefined;
  const id = added.find((t) => t.content === token)?.id ?? model.tokenToId(token);
  return id === undefined ? undefined : { token, id };
}
