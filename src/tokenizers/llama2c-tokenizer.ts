// llama2.c's tokenizer.bin as a Tokenizer: SentencePiece BPE whose pieces spell spaces as " ", encoded
// exactly as run.c's `encode` (dummy-prefix " " token, per-character lookup with byte fallback to id
// byte+3, then repeatedly merge the best-scoring adjacent pair, leftmost on ties) and decoded as run.c's
// `decode` ("<0xXX>" pieces become raw bytes, the leading space after BOS is dropped).
// BOS is id 1 and EOS id 2, as in run.c; `encode` adds BOS (run.c's generate: bos=1, eos=0).

import { readLlama2cTokenizer } from "../io/llama2c.js";
import { SentencePieceBpeModel } from "./sentencepiece-bpe.js";
import { PretrainedTokenizer, type SpecialTokens } from "./tokenizer.js";

/** Reads tokenizer.bin; pass the model's vocabulary size to check that the file matches it. */
export function readLlama2cTokenizerBin(path: string, vocabSize?: number): PretrainedTokenizer {
  const { vocab, scores } = readLlama2cTokenizer(path, vocabSize);
  const model = new SentencePieceBpeModel({
    vocab,
    scores: Array.from(scores),
    spaceSymbol: " ",
    dummyPrefix: "always",
    byteFallback: true,
    llama2c: true,
  });
  const specials: SpecialTokens = {
    unk: { token: vocab[0], id: 0 },
    bos: { token: vocab[1], id: 1 },
    eos: { token: vocab[2], id: 2 },
  };
  const bos = { special: vocab[1], id: 1, typeId: 0 };
  return new PretrainedTokenizer({
    model,
    specialTokens: specials,
    postProcessor: {
      single: [bos, { sequence: 0, typeId: 0 }],
      pair: [bos, { sequence: 0, typeId: 0 }, { ...bos, typeId: 1 }, { sequence: 1, typeId: 1 }],
    },
  });
}
