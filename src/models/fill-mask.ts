// Fill in the blank with a masked LM, as transformers' fill-mask pipeline: encode the text (the mask token
// written as the tokenizer spells it; "[MASK]" is accepted for any tokenizer), run the encoder and the MLM
// head once, and at each mask position return the k most probable tokens with their softmax probability and
// the text with the blank filled.

import { AdaptlmError } from "../errors.js";
import * as T from "../tensor/index.js";
import { logSoftmaxRow, topEntries } from "./batch-generate.js";
import type { BertForMaskedLM } from "./bert.js";
import { type LoadedModel, requireTokenizer } from "./load-model.js";

export interface MaskCandidate {
  token: number;
  /** The token as text (decoded, e.g. "paris"). */
  tokenText: string;
  probability: number;
  /** The input with this token in the blank. */
  sequence: string;
}

export interface MaskPrediction {
  /** Token index of the mask in the encoded input. */
  position: number;
  candidates: MaskCandidate[];
}

export class FillMaskError extends AdaptlmError {}

/** Top-k fillers of every mask token in text. Throws FillMaskError (FILL_MASK_NOT_MLM, FILL_MASK_NO_MASK). */
export function fillMask(loaded: LoadedModel, text: string, topK = 5): MaskPrediction[] {
  if (loaded.kind !== "masked-lm") {
    throw new FillMaskError(
      "FILL_MASK_NOT_MLM",
      `${loaded.source.path} is a ${loaded.config.modelType} ${loaded.kind} without a masked-LM head; fill-mask needs e.g. BertForMaskedLM weights (cls.predictions.*)`,
    );
  }
  const tokenizer = requireTokenizer(loaded);
  const maskId = tokenizer.maskTokenId;
  const maskText = tokenizer.specialTokens.mask?.token;
  if (maskId === undefined || maskText === undefined) {
    throw new FillMaskError("FILL_MASK_NO_MASK", "the tokenizer has no mask token");
  }
  const input = maskText === "[MASK]" ? text : text.split("[MASK]").join(maskText);
  const encoding = tokenizer.encode(input, {
    truncation: true,
    maxLength: Math.min(
      loaded.config.maxPositions - loaded.config.positionIdOffset,
      tokenizer.modelMaxLength ?? Infinity,
    ),
  });
  const positions = encoding.ids.flatMap((id, i) => (id === maskId ? [i] : []));
  if (positions.length === 0) {
    throw new FillMaskError(
      "FILL_MASK_NO_MASK",
      `no ${maskText} in the text: write ${maskText === "[MASK]" ? "[MASK]" : `[MASK] or ${maskText}`} where the missing word goes`,
    );
  }
  const model = loaded.model as BertForMaskedLM;
  const rows = T.scope(() =>
    T.noGrad(() => {
      const ids = encoding.ids;
      const logits = model.forward({
        inputIds: T.tensor(ids, [1, ids.length], "int32"),
        tokenTypeIds: T.tensor(encoding.typeIds, [1, ids.length], "int32"),
      }); // [1, seq, vocab]
      const vocab = logits.shape[2];
      return positions.map((p) => Float32Array.from(logits.data.subarray(p * vocab, (p + 1) * vocab)));
    }),
  );
  return positions.map((position, m) => {
    const logprobs = logSoftmaxRow(rows[m]);
    const candidates = topEntries(logprobs, topK).map(({ token, logprob }) => {
      const filled = [...encoding.ids];
      filled[position] = token;
      return {
        token,
        tokenText: tokenizer.decode([token]).trim(),
        probability: Math.exp(logprob),
        sequence: tokenizer.decode(filled, { skipSpecialTokens: true }),
      };
    });
    return { position, candidates };
  });
}
