// Public surface of the tokenizer layer.

export { ByteLevelBpeModel, PRETOKENIZE_PATTERNS } from "./byte-level-bpe.js";
export { DecodeStream } from "./decode-stream.js";
export { TokenizerError } from "./errors.js";
export { tokenizerFromGguf } from "./gguf-tokenizer.js";
export { type HfTokenizerConfig, readHfTokenizerConfig } from "./hf-config.js";
export { readLlama2cTokenizerBin } from "./llama2c-tokenizer.js";
export { type LoadTokenizerOptions, loadTokenizer } from "./load.js";
export { SentencePieceBpeModel } from "./sentencepiece-bpe.js";
export type {
  AddedToken,
  DecodeOptions,
  EncodeOptions,
  Encoding,
  Piece,
  PostProcessor,
  SpecialToken,
  SpecialTokens,
  TemplateItem,
  Tokenizer,
  TokenizerKind,
  TokenizerModel,
  TruncationStrategy,
} from "./tokenizer.js";
export { PretrainedTokenizer } from "./tokenizer.js";
export { readTokenizerJson, tokenizerFromJson } from "./tokenizer-json.js";
export { readVocabJsonAndMerges, readVocabTxt } from "./vocab-files.js";
export { WordPieceModel } from "./wordpiece.js";
