// Character helpers shared by the tokenizers: GPT-2's byte <-> printable-character table, UTF-8 encoding
// that remembers where each byte came from in the original string, and BERT's character classes.

/**
 * GPT-2's bytes_to_unicode: the 188 printable Latin-1 bytes map to themselves, the other 68 bytes to
 * U+0100.. in byte order, so every byte string becomes a printable string without spaces or controls.
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const table: string[] = new Array(256);
  const printable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = String.fromCharCode(printable(b) ? b : 256 + extra++);
  }
  return table;
})();

export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** UTF-8 bytes of `text` plus, for each byte, the [start, end) UTF-16 range of the character it encodes. */
export interface Utf8WithOrigins {
  bytes: Uint8Array;
  charStart: Int32Array;
  charEnd: Int32Array;
}

const encoder = new TextEncoder();

export function utf8WithOrigins(text: string, base = 0): Utf8WithOrigins {
  const bytes = encoder.encode(text);
  const charStart = new Int32Array(bytes.length);
  const charEnd = new Int32Array(bytes.length);
  let b = 0;
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const units = cp > 0xffff ? 2 : 1;
    // Lone surrogates encode as U+FFFD (3 bytes), as TextEncoder does.
    const isLoneSurrogate = cp >= 0xd800 && cp <= 0xdfff;
    const n = isLoneSurrogate ? 3 : cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let k = 0; k < n; k++, b++) {
      charStart[b] = base + i;
      charEnd[b] = base + i + units;
    }
    i += units;
  }
  return { bytes, charStart, charEnd };
}

export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

const lenientDecoder = new TextDecoder("utf-8", { fatal: false });
/** UTF-8 decoding that replaces invalid sequences with U+FFFD (Python's errors="replace"). */
export function utf8Decode(bytes: Uint8Array): string {
  return lenientDecoder.decode(bytes);
}

// BERT's character classes (transformers' tokenization_bert.py / tokenizers' bert normalizer).

const UNICODE_PUNCTUATION = /\p{P}/u;
const UNICODE_OTHER = /\p{C}/u;
const UNICODE_SPACE_SEPARATOR = /\p{Zs}/u;

/** Whitespace as BERT sees it: space, tab, newline, carriage return, or category Zs. */
export function isBertWhitespace(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\n" || ch === "\r" || UNICODE_SPACE_SEPARATOR.test(ch);
}

/** Control as BERT sees it: category C*, except tab, newline and carriage return (which are whitespace). */
export function isBertControl(ch: string): boolean {
  if (ch === "\t" || ch === "\n" || ch === "\r") return false;
  return UNICODE_OTHER.test(ch);
}

/** Punctuation as BERT sees it: every non-alphanumeric ASCII printable character, or category P*. */
export function isBertPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if (
    (cp >= 33 && cp <= 47) ||
    (cp >= 58 && cp <= 64) ||
    (cp >= 91 && cp <= 96) ||
    (cp >= 123 && cp <= 126)
  ) {
    return true;
  }
  return UNICODE_PUNCTUATION.test(ch);
}

/** CJK Unified Ideographs blocks (the ranges of tokenizers' bert normalizer; llama.cpp uses the same). */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}
