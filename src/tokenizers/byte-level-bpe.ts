// Byte-level BPE as GPT-2 (openai/gpt-2 encoder.py, tokenizers' ByteLevel pre-tokenizer + BPE model):
//
// 1. split the text into words with a regex (GPT-2's by default; Llama-3 and Qwen2 use variants);
// 2. write each word's UTF-8 bytes as printable characters with bytes_to_unicode (" " -> "Ġ", "\n" -> "Ċ");
// 3. starting from single characters, merge the adjacent pair with the best (lowest) merge rank until no
//    listed merge applies; results are cached per word;
// 4. look each piece up in the vocabulary.
// Decoding maps the characters back to bytes and decodes UTF-8 (invalid sequences become U+FFFD).

import { TokenizerError } from "./errors.js";
import { mergeSymbols } from "./heap.js";
import type { Piece, TokenizerModel } from "./tokenizer.js";
import { BYTE_TO_CHAR, CHAR_TO_BYTE, utf8Decode, utf8Encode, utf8WithOrigins } from "./unicode.js";

/**
 * Pre-tokenization patterns. `\s` is spelled \p{White_Space} so that it means what it means in Python's
 * `regex` and Rust's `regex` (JavaScript's \s also matches U+FEFF and not U+0085).
 */
export const PRETOKENIZE_PATTERNS = {
  /** GPT-2 (also RoBERTa, GPT-J, Phi-2): 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
  gpt2: String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+`,
  /** Llama 3 (digits in groups of up to three; case-insensitive contractions). */
  llama3: String.raw`'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\p{White_Space}\p{L}\p{N}]+[\r\n]*|\p{White_Space}*[\r\n]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+`,
  /** Qwen2 (single digits). */
  qwen2: String.raw`'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\p{White_Space}\p{L}\p{N}]+[\r\n]*|\p{White_Space}*[\r\n]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+`,
} as const;

/**
 * A Python/Rust-flavoured regex source in JavaScript's spelling: \s and \S become \p{White_Space} and
 * \P{White_Space} (also inside character classes). Inline flag groups such as (?i:...) are not translated.
 */
export function toJsPattern(source: string): string {
  return source.replaceAll("\\s", "\\p{White_Space}").replaceAll("\\S", "\\P{White_Space}");
}

export interface ByteLevelBpeOptions {
  /** Token -> id (encoder.json, tokenizer.json's model.vocab, or a GGUF token list). */
  vocab: ReadonlyMap<string, number>;
  /** Merges in rank order, each a pair of byte-level strings. */
  merges: readonly (readonly [string, string])[];
  /**
   * Pre-tokenization regex sources applied in turn, each splitting the words of the one before into its
   * matches and the text between them (tokenizers' Split "Isolated"); default GPT-2's regex alone.
   */
  patterns?: readonly string[];
  /** Unicode normalizations and lower-casing applied before pre-tokenization (tokenizers' normalizers). */
  normalizers?: readonly TextNormalization[];
  /** Prepend a space to text that does not start with one (RoBERTa's add_prefix_space). */
  addPrefixSpace?: boolean;
  /** Leave leading/trailing spaces out of token offsets (tokenizers' trim_offsets). */
  trimOffsets?: boolean;
  /** A word that is itself a token is not merged piece by piece (Llama 3's ignore_merges). */
  ignoreMerges?: boolean;
  unkToken?: string;
}

export type TextNormalization = "NFC" | "NFD" | "NFKC" | "NFKD" | "Lowercase";

/** CHAR_TO_BYTE as a table indexed by char code (-1: not a byte character). */
const BYTE_OF_CHAR_CODE = (() => {
  const table = new Int16Array(512).fill(-1);
  for (const [ch, b] of CHAR_TO_BYTE) table[ch.charCodeAt(0)] = b;
  return table;
})();

const CACHE_LIMIT = 100_000;
const WHITESPACE = /\p{White_Space}/u;
/** A character with the combining marks after it: the unit that is normalized at once. */
const CLUSTER = /\P{M}\p{M}*|\p{M}+/gsu;

/**
 * A normalized segment and, per UTF-16 unit of it, the [start, end) of its source in the original text;
 * without normalizers or a prefix space, unit i simply comes from `base + i` and no arrays are made.
 */
interface AlignedText {
  text: string;
  base: number;
  sourceStart?: number[];
  sourceEnd?: number[];
}

/** The tokens of one pre-tokenized word, cached by the word: ids, tokens, and unit ranges in the word. */
interface WordTokens {
  ids: number[];
  tokens: string[];
  /** [start, end) of each token in the word's UTF-16 units, two entries per token. */
  ranges: Int32Array;
}

export class ByteLevelBpeModel implements TokenizerModel {
  readonly kind = "byte-level-bpe" as const;
  readonly addPrefixSpace: boolean;
  readonly trimOffsets: boolean;
  readonly ignoreMerges: boolean;
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly tokens: string[] = [];
  private readonly ranks = new Map<string, number>();
  private readonly patterns: RegExp[];
  private readonly normalizers: readonly TextNormalization[];
  private readonly unkId: number | undefined;
  private readonly cache = new Map<string, WordTokens>();

  constructor(options: ByteLevelBpeOptions) {
    this.vocab = options.vocab;
    for (const [token, id] of options.vocab) this.tokens[id] = token;
    options.merges.forEach(([a, b], rank) => {
      const key = `${a}\u0000${b}`;
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });
    this.patterns = (options.patterns ?? [PRETOKENIZE_PATTERNS.gpt2]).map((p) => new RegExp(p, "gu"));
    this.normalizers = options.normalizers ?? [];
    this.addPrefixSpace = options.addPrefixSpace ?? false;
    this.trimOffsets = options.trimOffsets ?? false;
    this.ignoreMerges = options.ignoreMerges ?? false;
    this.unkId = options.unkToken === undefined ? undefined : options.vocab.get(options.unkToken);
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokens[id];
  }

  /** Byte-level BPE of one pre-tokenized word (as written, not yet byte-mapped), cached. */
  private wordTokens(wordText: string): WordTokens {
    const cached = this.cache.get(wordText);
    if (cached !== undefined) return cached;
    const { bytes, charStart, charEnd } = utf8WithOrigins(wordText);
    let word = "";
    for (const b of bytes) word += BYTE_TO_CHAR[b];
    const pieces =
      this.ignoreMerges && this.vocab.has(word)
        ? [word]
        : mergeSymbols(Array.from(word), (a, b) => this.ranks.get(`${a}\u0000${b}`)).map((s) => s.text);
    const ids: number[] = [];
    const tokens: string[] = [];
    const ranges: number[] = [];
    let byteIndex = 0;
    for (const piece of pieces) {
      // Byte-level pieces have one character per byte.
      const first = byteIndex;
      byteIndex += piece.length;
      const range = [charStart[first], charEnd[byteIndex - 1]];
      const id = this.vocab.get(piece);
      if (id !== undefined) {
        ids.push(id);
        tokens.push(piece);
        ranges.push(...range);
        continue;
      }
      // Not in the vocabulary (a vocabulary without all 256 bytes): fall back to single characters, as
      // llama.cpp does, or to the unknown token.
      for (const ch of piece) {
        const charId = this.vocab.get(ch) ?? this.unkId;
        if (charId === undefined) continue;
        ids.push(charId);
        tokens.push(this.tokens[charId]);
        ranges.push(...range);
      }
    }
    const result: WordTokens = { ids, tokens, ranges: Int32Array.from(ranges) };
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(wordText, result);
    return result;
  }

  /** Normalizes `text.slice(start, end)` cluster by cluster, remembering where every unit came from. */
  private align(text: string, start: number, end: number): AlignedText {
    const prefix = this.addPrefixSpace && text[start] !== " ";
    if (this.normalizers.length === 0 && !prefix) return { text: text.slice(start, end), base: start };
    const aligned = { text: "", base: start, sourceStart: [] as number[], sourceEnd: [] as number[] };
    if (prefix) {
      aligned.text = " ";
      aligned.sourceStart.push(start);
      aligned.sourceEnd.push(start);
    }
    const segment = text.slice(start, end);
    for (const match of segment.matchAll(CLUSTER)) {
      let cluster = match[0];
      for (const form of this.normalizers) {
        cluster = form === "Lowercase" ? cluster.toLowerCase() : cluster.normalize(form);
      }
      aligned.text += cluster;
      for (let k = 0; k < cluster.length; k++) {
        aligned.sourceStart.push(start + match.index);
        aligned.sourceEnd.push(start + match.index + match[0].length);
      }
    }
    return aligned;
  }

  /** Splits [0, text.length) by each pattern in turn into [start, end) words. */
  private words(text: string): [number, number][] {
    let words: [number, number][] = [[0, text.length]];
    for (const pattern of this.patterns) {
      const next: [number, number][] = [];
      for (const [wordStart, wordEnd] of words) {
        const word = text.slice(wordStart, wordEnd);
        let covered = 0;
        for (const match of word.matchAll(pattern)) {
          if (match.index > covered) next.push([wordStart + covered, wordStart + match.index]);
          if (match[0] !== "")
            next.push([wordStart + match.index, wordStart + match.index + match[0].length]);
          covered = match.index + match[0].length;
        }
        if (covered < word.length) next.push([wordStart + covered, wordEnd]);
      }
      words = next;
    }
    return words;
  }

  tokenize(text: string, start: number, end: number): Piece[] {
    const aligned = this.align(text, start, end);
    const { sourceStart, sourceEnd, base } = aligned;
    const out: Piece[] = [];
    for (const [wordStart, wordEnd] of this.words(aligned.text)) {
      const word = this.wordTokens(aligned.text.slice(wordStart, wordEnd));
      for (let k = 0; k < word.ids.length; k++) {
        const first = wordStart + word.ranges[2 * k];
        const last = wordStart + word.ranges[2 * k + 1] - 1;
        let pieceStart = sourceStart ? sourceStart[first] : base + first;
        let pieceEnd = sourceEnd ? sourceEnd[last] : base + last + 1;
        if (this.trimOffsets && /\P{White_Space}/u.test(text.slice(pieceStart, pieceEnd))) {
          while (pieceStart < pieceEnd && WHITESPACE.test(text[pieceStart])) pieceStart++;
          while (pieceEnd > pieceStart && WHITESPACE.test(text[pieceEnd - 1])) pieceEnd--;
        }
        out.push({ id: word.ids[k], token: word.tokens[k], start: pieceStart, end: pieceEnd });
      }
    }
    return out;
  }

  decode(tokens: readonly string[], added: readonly boolean[]): string {
    let bytes = new Uint8Array(256);
    let length = 0;
    const append = (b: number): void => {
      if (length === bytes.length) {
        const grown = new Uint8Array(bytes.length * 2);
        grown.set(bytes);
        bytes = grown;
      }
      bytes[length++] = b;
    };
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i];
      if (added[i]) {
        for (const b of utf8Encode(token)) append(b);
        continue;
      }
      for (let k = 0; k < token.length; k++) {
        const code = token.charCodeAt(k);
        const b = code < BYTE_OF_CHAR_CODE.length ? BYTE_OF_CHAR_CODE[code] : -1;
        if (b >= 0) append(b);
        else for (const x of utf8Encode(token[k])) append(x);
      }
    }
    return utf8Decode(bytes.subarray(0, length));
  }
}

/**
 * Splits merges.txt lines / GGUF merge strings "a b" into pairs; a leading "#version" line and blank lines
 * are skipped. The split point is the first space after the first character (llama.cpp: find(' ', 1)).
 */
export function parseMergeLines(lines: readonly string[], label: string): [string, string][] {
  const merges: [string, string][] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if ((i === 0 && line.startsWith("#version")) || line === "") continue;
    const at = line.indexOf(" ", 1);
    if (at < 0 || at === line.length - 1) {
      throw new TokenizerError(
        "TOKENIZER_BAD_FILE",
        `${label}: merge ${i + 1} is ${JSON.stringify(line.slice(0, 80))}; expected two tokens separated by a space`,
      );
    }
    merges.push([line.slice(0, at), line.slice(at + 1)]);
  }
  return merges;
}
