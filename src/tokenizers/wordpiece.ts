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

/** A normalized character and the [start, end) of the original character it came from. */
interface NormalizedChar {
  ch: string;
  start: number;
  end: number;
}

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
  private words(text: string, start: number, end: number): NormalizedChar[][] {
    const { cleanText, handleChineseChars, lowercase, stripAccents } = this.normalizer;
    const words: NormalizedChar[][] = [];
    let word: NormalizedChar[] = [];
    const flush = (): void => {
      if (word.length > 0) words.push(word);
      word = [];
    };
    for (let i = start; i < end; ) {
      const cp = text.codePointAt(i)!;
      const units = cp > 0xffff ? 2 : 1;
      const original = text.slice(i, i + units);
      const charStart = i;
      i += units;
      if (cleanText && (cp === 0 || cp === 0xfffd || isBertControl(original))) continue;
      if (isBertWhitespace(original)) {
        flush();
        continue;
      }
      if (handleChineseChars && isChineseChar(cp)) {
        flush();
        words.push([{ ch: original, start: charStart, end: i }]);
        continue;
      }
      let normalized = original;
      if (lowercase) normalized = normalized.toLowerCase();
      if (stripAccents) normalized = normalized.normalize("NFD").replace(COMBINING_MARK, "");
      for (const ch of normalized) {
        if (isBertPunctuation(ch)) {
          flush();
          words.push([{ ch, start: charStart, end: i }]);
        } else {
          word.push({ ch, start: charStart, end: i });
        }
      }
    }
    flush();
    return words;
  }

  /** Step 5 on one word. */
  private wordPieces(word: NormalizedChar[], out: Piece[]): void {
    const unk = (): void => {
      out.push({
        id: this.unkId,
        token: this.unkToken,
        start: word[0].start,
        end: word[word.length - 1].end,
      });
    };
    if (word.length > this.maxInputCharsPerWord) {
      unk();
      return;
    }
    const chars = word.map((c) => c.ch);
    const pieces: Piece[] = [];
    let start = 0;
    while (start < chars.length) {
      const prefix = start === 0 ? this.wordStartPrefix : this.continuingPrefix;
      let found: Piece | undefined;
      for (let end = Math.min(chars.length, start + this.maxPieceChars); end > start; end--) {
        const token = prefix + chars.slice(start, end).join("");
        const id = this.ids.get(token);
        if (id !== undefined) {
          found = { id, token, start: word[start].start, end: word[end - 1].end };
          start = end;
          break;
        }
      }
      if (found === undefined) {
        unk();
        return;
      }
      pieces.push(found);
    }
    out.push(...pieces);
  }

  tokenize(text: string, start: number, end: number): Piece[] {
    const out: Piece[] = [];
    for (const word of this.words(text, start, end)) this.wordPieces(word, out);
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
