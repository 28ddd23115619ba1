// SentencePiece-style BPE with byte fallback, as Llama 1/2, Mistral and TinyLlama tokenize:
//
// 1. prepend a space ("add dummy prefix") to the segment, and write spaces as "▁" (U+2581);
// 2. start from single characters and merge adjacent pairs: by the merged piece's score (llama.cpp's
//    llm_tokenizer_spm, llama2.c's encode: the best-scoring pair first, the leftmost on ties) or by merge
//    rank (tokenizer.json's BPE model with `merges`);
// 3. a character with no piece of its own becomes its UTF-8 bytes as "<0xXX>" tokens (byte fallback).
//
// llama2.c's tokenizer.bin stores pieces with plain spaces instead of "▁" and assumes byte tokens sit at
// id byte+3; its `encode` applies byte fallback before merging. `llama2c: true` reproduces run.c (whose
// merge loop also scans the BOS token; no piece starts with BOS's "\n<s>\n", so leaving it out changes
// nothing).

import { TokenizerError } from "./errors.js";
import { type MergedSymbol, mergeSymbols } from "./heap.js";
import type { Piece, TokenizerModel } from "./tokenizer.js";
import { utf8Decode, utf8Encode, utf8WithOrigins } from "./unicode.js";

export interface SentencePieceBpeOptions {
  /** Pieces in id order. */
  vocab: readonly string[];
  /** Piece scores (log-probabilities); used for merging when `merges` is absent. */
  scores?: readonly number[];
  /** Merges in rank order (tokenizer.json); when given, merge by rank instead of score. */
  merges?: readonly (readonly [string, string])[];
  unkToken?: string;
  byteFallback?: boolean;
  /** What a space is written as inside pieces: "▁" (SentencePiece) or " " (llama2.c's tokenizer.bin). */
  spaceSymbol?: string;
  /** Add a space before the text: before every segment, only the first, or never. Default "always". */
  dummyPrefix?: "always" | "first" | "never";
  /** Split before each space symbol and merge inside the parts only (tokenizers' Metaspace with split). */
  splitOnSpace?: boolean;
  /** Reproduce llama2.c run.c's encode (byte fallback at id byte+3 before merging). */
  llama2c?: boolean;
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
const CACHE_LIMIT = 100_000;

interface InitialSymbol {
  text: string;
  /** Known id of an initial symbol (llama2.c mode: every initial symbol is already a token). */
  id?: number;
  start: number;
  end: number;
}

export class SentencePieceBpeModel implements TokenizerModel {
  readonly kind = "sentencepiece-bpe" as const;
  readonly spaceSymbol: string;
  readonly dummyPrefix: "always" | "first" | "never";
  readonly byteFallback: boolean;
  readonly splitOnSpace: boolean;
  readonly llama2c: boolean;
  private readonly vocab: readonly string[];
  private readonly scores: readonly number[];
  private readonly ids = new Map<string, number>();
  private readonly ranks: Map<string, number> | undefined;
  private readonly byteIds: (number | undefined)[] = new Array(256);
  private readonly unkId: number | undefined;
  /** Whether some piece holds a space symbol after another character (then words may not be merged apart). */
  private readonly piecesSpanWords: boolean;
  private readonly cache = new Map<string, MergedSymbol[]>();

  constructor(options: SentencePieceBpeOptions) {
    this.vocab = options.vocab;
    this.scores = options.scores ?? new Array(options.vocab.length).fill(0);
    this.spaceSymbol = options.spaceSymbol ?? "\u2581";
    this.dummyPrefix = options.dummyPrefix ?? "always";
    this.byteFallback = options.byteFallback ?? true;
    this.splitOnSpace = options.splitOnSpace ?? false;
    this.llama2c = options.llama2c ?? false;
    for (let id = 0; id < this.vocab.length; id++) {
      if (!this.ids.has(this.vocab[id])) this.ids.set(this.vocab[id], id);
    }
    if (options.merges !== undefined) {
      this.ranks = new Map();
      options.merges.forEach(([a, b], rank) => {
        const key = `${a}\u0000${b}`;
        if (!this.ranks!.has(key)) this.ranks!.set(key, rank);
      });
    }
    for (let b = 0; b < 256; b++) {
      this.byteIds[b] = this.llama2c
        ? b + 3
        : this.ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    }
    this.unkId = options.unkToken === undefined ? undefined : this.ids.get(options.unkToken);
    this.piecesSpanWords = this.vocab.some((piece) => {
      let seenOther = false;
      for (const ch of piece) {
        if (ch !== this.spaceSymbol) seenOther = true;
        else if (seenOther) return true;
      }
      return false;
    });
    if (this.llama2c && this.vocab.length < 259) {
      throw new TokenizerError(
        "TOKENIZER_BAD_FILE",
        `llama2.c tokenizer has ${this.vocab.length} pieces; it needs at least 259 (3 specials + 256 byte pieces)`,
      );
    }
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.vocab[id];
  }

  private priority(left: string, right: string): number | undefined {
    if (this.ranks !== undefined) return this.ranks.get(`${left}\u0000${right}`);
    const id = this.ids.get(left + right);
    if (id === undefined) return undefined;
    // run.c starts its search from best_score = -1e10 and only takes strictly better pairs.
    if (this.llama2c && !(this.scores[id] > -1e10)) return undefined;
    return -this.scores[id];
  }

  tokenize(text: string, start: number, end: number, firstSegment: boolean): Piece[] {
    const prefix = this.dummyPrefix === "always" || (this.dummyPrefix === "first" && firstSegment);
    const symbols = this.llama2c
      ? this.llama2cSymbols(text, start, end, prefix)
      : this.charSymbols(text, start, end, prefix);
    const out: Piece[] = [];
    // Parts to merge separately: with Metaspace splitting, each run that starts at a space symbol. Without
    // it, the same split is still exact when no piece holds a space after another character (true of
    // SentencePiece vocabularies trained with split_by_whitespace): no merge can then cross such a point.
    // Merging word by word keeps the queues small and lets repeated words come from the cache.
    const split = this.splitOnSpace || !this.piecesSpanWords;
    let partStart = 0;
    for (let i = 1; i <= symbols.length; i++) {
      if (i < symbols.length) {
        if (!split || symbols[i].text !== this.spaceSymbol) continue;
        if (!this.splitOnSpace && symbols[i - 1].text === this.spaceSymbol) continue;
      }
      this.mergePart(symbols.slice(partStart, i), out);
      partStart = i;
    }
    return out;
  }

  /** Merges one part; results are cached by the part's symbols. */
  private mergePart(symbols: InitialSymbol[], out: Piece[]): void {
    const texts = symbols.map((s) => s.text);
    const key = texts.join("\u0000");
    let merged = this.cache.get(key);
    if (merged === undefined) {
      merged = mergeSymbols(texts, (a, b) => this.priority(a, b));
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(key, merged);
    }
    for (const symbol of merged) {
      const start = symbols[symbol.first].start;
      const end = symbols[symbol.last].end;
      const id =
        symbol.first === symbol.last
          ? (symbols[symbol.first].id ?? this.ids.get(symbol.text))
          : this.ids.get(symbol.text);
      if (id !== undefined) {
        out.push({ id, token: this.vocab[id], start, end });
        continue;
      }
      // Only single characters can be missing from the vocabulary: spell them as bytes.
      const byteIds = Array.from(utf8Encode(symbol.text), (b) => this.byteIds[b]);
      if (this.byteFallback && byteIds.every((b) => b !== undefined)) {
        for (const b of byteIds) out.push({ id: b!, token: this.vocab[b!], start, end });
      } else if (this.unkId !== undefined) {
        out.push({ id: this.unkId, token: this.vocab[this.unkId], start, end });
      } else {
        throw new TokenizerError(
          "TOKENIZER_BAD_FILE",
          `cannot tokenize ${JSON.stringify(symbol.text)}: no such piece, no byte fallback pieces and no unknown token`,
        );
      }
    }
  }

  /** Characters of the segment with spaces written as the space symbol (llama.cpp, tokenizers). */
  private charSymbols(text: string, start: number, end: number, prefix: boolean): InitialSymbol[] {
    const symbols: InitialSymbol[] = [];
    if (prefix) symbols.push({ text: this.spaceSymbol, start, end: start });
    for (let i = start; i < end; ) {
      const cp = text.codePointAt(i)!;
      const units = cp > 0xffff ? 2 : 1;
      const ch = text.slice(i, i + units);
      symbols.push({ text: ch === " " ? this.spaceSymbol : ch, start: i, end: i + units });
      i += units;
    }
    return symbols;
  }

  /**
   * llama2.c run.c `encode`: a dummy-prefix " " token, then the UTF-8 bytes grouped into characters (a lead
   * byte and at most three continuation bytes); a character that is not a piece becomes byte tokens byte+3.
   */
  private llama2cSymbols(text: string, start: number, end: number, prefix: boolean): InitialSymbol[] {
    const symbols: InitialSymbol[] = [];
    if (prefix) {
      const spaceId = this.ids.get(" ");
      if (spaceId === undefined) {
        throw new TokenizerError(
          "TOKENIZER_BAD_FILE",
          'llama2.c tokenizer has no " " piece for the dummy prefix',
        );
      }
      symbols.push({ text: " ", id: spaceId, start, end: start });
    }
    const { bytes, charStart, charEnd } = utf8WithOrigins(text.slice(start, end), start);
    let groupStart = 0;
    for (let i = 0; i < bytes.length; i++) {
      if ((bytes[i] & 0xc0) !== 0x80) groupStart = i;
      const nextIsContinuation = i + 1 < bytes.length && (bytes[i + 1] & 0xc0) === 0x80;
      if (nextIsContinuation && i + 1 - groupStart < 4) continue;
      const group = bytes.subarray(groupStart, i + 1);
      const s = charStart[groupStart];
      const e = charEnd[i];
      const id = this.ids.get(utf8Decode(group));
      if (id !== undefined) {
        symbols.push({ text: this.vocab[id], id, start: s, end: e });
      } else {
        for (const b of group) symbols.push({ text: this.vocab[b + 3], id: b + 3, start: s, end: e });
      }
      groupStart = i + 1;
    }
    return symbols;
  }

  decode(tokens: readonly string[], added: readonly boolean[]): string {
    // Runs of byte tokens are collected and decoded together (they spell UTF-8 characters); other tokens
    // are text already.
    const parts: string[] = [];
    let pending: number[] = [];
    const flush = (): void => {
      if (pending.length > 0) parts.push(utf8Decode(Uint8Array.from(pending)));
      pending = [];
    };
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i];
      const byte = !added[i] && this.byteFallback && token.startsWith("<0x") ? BYTE_TOKEN.exec(token) : null;
      if (byte !== null) {
        pending.push(Number.parseInt(byte[1], 16));
        continue;
      }
      flush();
      parts.push(added[i] ? token : token.replaceAll(this.spaceSymbol, " "));
    }
    flush();
    let text = parts.join("");
    // Undo the dummy prefix (tokenizers' Strip decoder, llama2.c's "skip the space after BOS").
    if (this.dummyPrefix !== "never" && tokens.length > 0 && !added[0] && text.startsWith(" ")) {
      text = text.slice(1);
    }
    return text;
  }
}
