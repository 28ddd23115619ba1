// Incremental decoding for streamed generation: feed token ids one at a time, get back only the new text.
// Decoding a token alone is wrong in general (SentencePiece drops the leading space of the first piece,
// byte-level and byte-fallback tokens may hold part of a UTF-8 character, WordPiece glues "##" pieces),
// so each step decodes the new tokens together with the tokens of the previous step as context, and holds
// text back while it ends in an incomplete character (U+FFFD), as tokenizers' DecodeStream does.

import type { DecodeOptions, Tokenizer } from "./tokenizer.js";

export class DecodeStream {
  private readonly ids: number[] = [];
  /** ids[prefixIndex, readIndex) were emitted last time and serve as context; their text is prefixText. */
  private prefixIndex = 0;
  private readIndex = 0;
  private prefixText = "";

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly options: DecodeOptions = {},
  ) {}

  /** Adds one token id; returns the text it completes (often "", e.g. inside a multi-byte character). */
  step(id: number): string {
    this.ids.push(id);
    const text = this.tokenizer.decode(this.ids.slice(this.prefixIndex), this.options);
    if (text.length <= this.prefixText.length || text.endsWith("\uFFFD")) return "";
    const added = text.slice(this.prefixText.length);
    this.prefixIndex = this.readIndex;
    this.readIndex = this.ids.length;
    this.prefixText = this.tokenizer.decode(this.ids.slice(this.prefixIndex, this.readIndex), this.options);
    return added;
  }
}
