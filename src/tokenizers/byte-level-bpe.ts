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

export interface ByteLevelBpeOptions {
  /** Token -> id (encoder.json, tokenizer.json's model.vocab, or a GGUF token list). */
  vocab: ReadonlyMap<string, number>;
  /** Merges in rank order, each a pair of byte-level strings. */
  merges: readonly (readonly [string, string])[];
  /** Pre-tokenization regex source; default GPT-2's. */
  pattern?: string;
  /** Prepend a space to text that does not start with one (RoBERTa's add_prefix_space). */
  addPrefixSpace?: boolean;
  /** Leave leading/trailing spaces out of token offsets (tokenizers' trim_offsets). */
  trimOffsets?: boolean;
  /** A word that is itself a token is not merged piece by piece (Llama 3's ignore_merges). */
  ignoreMerges?: boolean;
  unkToken?: string;
}

const CACHE_LIMIT = 100_000;
const WHITESPACE = /\p{White_Space}/u;

export class ByteLevelBpeModel implements TokenizerModel {
  readonly kind = "byte-level-bpe" as const;
  readonly addPrefixSpace: boolean;
  readonly trimOffsets: boolean;
  readonly ignoreMerges: boolean;
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly tokens: string[] = [];
  private readonly ranks = new Map<string, number>();
  private readonly pattern: RegExp;
  private readonly unkId: number | undefined;
  private readonly cache = new Map<string, string[]>();

  constructor(options: ByteLevelBpeOptions) {
    this.vocab = options.vocab;
    for (const [token, id] of options.vocab) this.tokens[id] = token;
    options.merges.forEach(([a, b], rank) => {
      const key = `${a}\u0000${b}`;
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });
    this.pattern = new RegExp(options.pattern ?? PRETOKENIZE_PATTERNS.gpt2, "gu");
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

  /** BPE of one byte-level word, cached. */
  private bpe(word: string): string[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    let pieces: string[];
    if (this.ignoreMerges && this.vocab.has(word)) {
      pieces = [word];
    } else {
      pieces = mergeSymbols(Array.from(word), (a, b) => this.ranks.get(`${a}\u0000${b}`)).map((s) => s.text);
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, pieces);
    return pieces;
  }

  tokenize(text: string, start: number, end: number): Piece[] {
    let segment = text.slice(start, end);
    let shift = 0;
    if (this.addPrefixSpace && !segment.startsWith(" ")) {
      segment = ` ${segment}`;
      shift = 1;
    }
    const out: Piece[] = [];
    // Text the pattern does not match stays a word of its own (tokenizers' Split with "Isolated").
    let covered = 0;
    for (const match of segment.matchAll(this.pattern)) {
      if (match.index > covered)
        this.tokenizeWord(text, start, segment.slice(covered, match.index), covered - shift, out);
      if (match[0] !== "") this.tokenizeWord(text, start, match[0], match.index - shift, out);
      covered = match.index + match[0].length;
    }
    if (covered < segment.length)
      this.tokenizeWord(text, start, segment.slice(covered), covered - shift, out);
    return out;
  }

  /** BPE on one pre-tokenized word found at `start + localStart` (negative for a prefix space). */
  private tokenizeWord(
    text: string,
    start: number,
    wordText: string,
    localStart: number,
    out: Piece[],
  ): void {
    const { bytes, charStart, charEnd } = utf8WithOrigins(wordText, start + localStart);
    let word = "";
    for (const b of bytes) word += BYTE_TO_CHAR[b];
    let byteIndex = 0;
    for (const piece of this.bpe(word)) {
      // Byte-level pieces have one character per byte.
      const first = byteIndex;
      byteIndex += piece.length;
      let pieceStart = Math.max(start, charStart[first]);
      let pieceEnd = Math.max(start, charEnd[byteIndex - 1]);
      if (this.trimOffsets) {
        const source = text.slice(pieceStart, pieceEnd);
        if (/\P{White_Space}/u.test(source)) {
          while (pieceStart < pieceEnd && WHITESPACE.test(text[pieceStart])) pieceStart++;
          while (pieceEnd > pieceStart && WHITESPACE.test(text[pieceEnd - 1])) pieceEnd--;
        }
      }
      const id = this.vocab.get(piece);
      if (id !== undefined) {
        out.push({ id, token: piece, start: pieceStart, end: pieceEnd });
        continue;
      }
      // Not in the vocabulary (a vocabulary without all 256 bytes): fall back to single characters, as
      // llama.cpp does, or to the unknown token.
      for (const ch of piece) {
        const charId = this.vocab.get(ch) ?? this.unkId;
        if (charId !== undefined)
          out.push({ id: charId, token: this.tokens[charId], start: pieceStart, end: pieceEnd });
      }
    }
  }

  decode(tokens: readonly string[], added: readonly boolean[]): string {
    const bytes: number[] = [];
    for (let i = 0; i < tokens.length; i++) {
      if (added[i]) {
        bytes.push(...utf8Encode(tokens[i]));
        continue;
      }
      for (const ch of tokens[i]) {
        const b = CHAR_TO_BYTE.get(ch);
        if (b !== undefined) bytes.push(b);
        else bytes.push(...utf8Encode(ch));
      }
    }
    return utf8Decode(Uint8Array.from(bytes));
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
