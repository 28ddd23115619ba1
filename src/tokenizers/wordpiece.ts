// WordPiece with BERT's BasicTokenizer (google-research/bert tokenization.py, transformers'
// tokenization_bert.py, tokenizers' BertNormalizer + BertPreTokenizer + WordPiece):
//
// 1. clean text: drop U+0000, U+FFFD and control characters; whitespace becomes a word break;
// 2. put every CJK ideograph in a word of its own;
// 3. lower-case, then strip accents (NFD, drop combining marks of category Mn) — when enabled;
// 4. split on whitespace and make every punctuation character (BERT's definition) its own word;
// 5. greedy longest-match-first WordPiece on each word: pieces after the first carry the continuation
//    prefix "##"; a word longer than 100 characters, or one with an unmatchable rest, becomes [UNK].
//
// llama.cpp's GGUF export writes the same vocabulary the other way round: word-initial pieces carry "▁" and
// continuation pieces carry nothing. `wordStartPrefix`/`continuingPrefix` cover both spellings.

import { TokenizerError } from "./errors.js";
import type { Piece, TokenizerModel } from "./tokenizer.js";
import { isBertControl, isBertPunctuation, isBertWhitespace, isChineseChar } from "./unicode.js";

export interface BertNormalizerOptions {
  cleanText: boolean;
  handleChineseChars: boolean;
  lowercase: boolean;
  /** Defaults to `lowercase`, as in BERT. */
  stripAccents?: boolean;
}

export interface WordPieceOptions {
  vocab: readonly string[];
  unkToken: string;
  /** Prefix of pieces that continue a word: "##" for BERT. */
  continuingPrefix?: string;
  /** Prefix of pieces that start a word: "" for BERT, "▁" for llama.cpp's GGUF vocabularies. */
  wordStartPrefix?: string;
  maxInputCharsPerWord?: number;
  normalizer?: BertNormalizerOptions;
}

const COMBINING_MARK = /\p{Mn}/gu;

/** A word after normalization: its characters and, per character, the [start, end) of its source. */
interface Word {
  chars: string[];
  starts: number[];
  ends: number[];
}

/** A piece of a cached word: id, token, and the range of the word's characters it covers. */
interface WordPiece {
  id: number;
  token: string;
  from: number;
  to: number;
}

// ASCII classes, so that plain English text needs no regex per character.
const ASCII_OTHER = 0;
const ASCII_SPACE = 1;
const ASCII_CONTROL = 2;
const ASCII_PUNCTUATION = 3;
const ASCII_CLASS = (() => {
  const table = new Uint8Array(128);
  for (let cp = 0; cp < 128; cp++) {
    const ch = String.fromCharCode(cp);
    table[cp] = isBertWhitespace(ch)
      ? ASCII_SPACE
      : isBertControl(ch)
        ? ASCII_CONTROL
        : isBertPunctuation(ch)
          ? ASCII_PUNCTUATION
          : ASCII_OTHER;
  }
  return table;
})();
const CACHE_LIMIT = 100_000;

export class WordPieceModel implements TokenizerModel {
  readonly kind = "wordpiece" as const;
  readonly unkToken: string;
  readonly continuingPrefix: string;
  readonly wordStartPrefix: string;
  readonly maxInputCharsPerWord: number;
  readonly normalizer: Required<BertNormalizerOptions>;
  private readonly vocab: readonly string[];
  private readonly ids = new Map<string, number>();
  private readonly maxPieceChars: number;
  private readonly unkId: number;
  private readonly cache = new Map<string, WordPiece[] | undefined>();

  constructor(options: WordPieceOptions) {
    this.vocab = options.vocab;
    this.unkToken = options.unkToken;
    this.continuingPrefix = options.continuingPrefix ?? "##";
    this.wordStartPrefix = options.wordStartPrefix ?? "";
    this.maxInputCharsPerWord = options.maxInputCharsPerWord ?? 100;
    const n = options.normalizer ?? { cleanText: true, handleChineseChars: true, lowercase: true };
    this.normalizer = { ...n, stripAccents: n.stripAccents ?? n.lowercase };
    let longest = 1;
    for (let id = 0; id < this.vocab.length; id++) {
      const token = this.vocab[id];
      if (!this.ids.has(token)) this.ids.set(token, id);
      longest = Math.max(longest, Array.from(token).length);
    }
    this.maxPieceChars = longest;
    const unkId = this.ids.get(this.unkToken);
    if (unkId === undefined) {
      throw new TokenizerError(
        "TOKENIZER_BAD_FILE",
        `WordPiece vocabulary of ${this.vocab.length} tokens has no unknown token "${this.unkToken}"; ` +
          "the vocabulary file is incomplete or the unk token is misnamed in the tokenizer config",
      );
    }
    this.unkId = unkId;
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

  /** Steps 1-4: the words of `text.slice(start, end)`, each a list of normalized characters. */
  private words(text: string, start: number, end: number): Word[] {
    const { cleanText, handleChineseChars, lowercase, stripAccents } = this.normalizer;
    const words: Word[] = [];
    let word: Word = { chars: [], starts: [], ends: [] };
    const flush = (): void => {
      if (word.chars.length > 0) words.push(word);
      word = { chars: [], starts: [], ends: [] };
    };
    const single = (ch: string, from: number, to: number): void => {
      flush();
      words.push({ chars: [ch], starts: [from], ends: [to] });
    };
    for (let i = start; i < end; ) {
      const cp = text.codePointAt(i)!;
      const charStart = i;
      if (cp < 128) {
        i += 1;
        const kind = ASCII_CLASS[cp];
        if (kind === ASCII_SPACE) flush();
        else if (kind === ASCII_CONTROL) {
          if (!cleanText) {
            word.chars.push(text[charStart]);
            word.starts.push(charStart);
            word.ends.push(i);
          }
        } else if (kind === ASCII_PUNCTUATION) single(text[charStart], charStart, i);
        else {
          word.chars.push(lowercase && cp >= 65 && cp <= 90 ? String.fromCharCode(cp + 32) : text[charStart]);
          word.starts.push(charStart);
          word.ends.push(i);
        }
        continue;
      }
      const units = cp > 0xffff ? 2 : 1;
      const original = text.slice(i, i + units);
      i += units;
      if (cleanText && (cp === 0xfffd || isBertControl(original))) continue;
      if (isBertWhitespace(original)) {
        flush();
        continue;
      }
      if (handleChineseChars && isChineseChar(cp)) {
        single(original, charStart, i);
        continue;
      }
      let normalized = original;
      if (lowercase) normalized = normalized.toLowerCase();
      if (stripAccents) normalized = normalized.normalize("NFD").replace(COMBINING_MARK, "");
      for (const ch of normalized) {
        if (isBertPunctuation(ch)) single(ch, charStart, i);
        else {
          word.chars.push(ch);
          word.starts.push(charStart);
          word.ends.push(i);
        }
      }
    }
    flush();
    return words;
  }

  /** Step 5 on one word's characters; undefined when the word is [UNK]. Cached by the word. */
  private pieces(chars: string[]): WordPiece[] | undefined {
    const key = chars.join("");
    if (this.cache.has(key)) return this.cache.get(key);
    let result: WordPiece[] | undefined = [];
    if (chars.length > this.maxInputCharsPerWord) result = undefined;
    let start = 0;
    while (result !== undefined && start < chars.length) {
      const prefix = start === 0 ? this.wordStartPrefix : this.continuingPrefix;
      let found: WordPiece | undefined;
      for (let end = Math.min(chars.length, start + this.maxPieceChars); end > start; end--) {
        const token = prefix + chars.slice(start, end).join("");
        const id = this.ids.get(token);
        if (id !== undefined) {
          found = { id, token, from: start, to: end };
          start = end;
          break;
        }
      }
      if (found === undefined) result = undefined;
      else result.push(found);
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(key, result);
    return result;
  }

  tokenize(text: string, start: number, end: number): Piece[] {
    const out: Piece[] = [];
    for (const word of this.words(text, start, end)) {
      const pieces = this.pieces(word.chars);
      if (pieces === undefined) {
        out.push({
          id: this.unkId,
          token: this.unkToken,
          start: word.starts[0],
          end: word.ends[word.ends.length - 1],
        });
        continue;
      }
      for (const p of pieces)
        out.push({ id: p.id, token: p.token, start: word.starts[p.from], end: word.ends[p.to - 1] });
    }
    return out;
  }

  /** Joins words with spaces and glues continuation pieces to the word before (tokenizers' WordPiece decoder). */
  decode(tokens: readonly string[], added: readonly boolean[]): string {
    let text = "";
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i];
      if (added[i]) {
        text += ` ${token}`;
      } else if (this.continuingPrefix !== "" && token.startsWith(this.continuingPrefix)) {
        text += token.slice(this.continuingPrefix.length);
      } else if (this.wordStartPrefix !== "") {
        text += token.startsWith(this.wordStartPrefix)
          ? ` ${token.slice(this.wordStartPrefix.length)}`
          : token;
      } else {
        text += ` ${token}`;
      }
    }
    return text.startsWith(" ") ? text.slice(1) : text;
  }
}
