// BERT's masked-language-model corruption, as transformers' DataCollatorForLanguageModeling.torch_mask_tokens
// with its defaults: every token that is not special or padding is selected with probability 0.15; a
// selected token becomes [MASK] with probability 0.8, otherwise a uniformly random id of the whole vocabulary
// with probability 0.5 (so 10% overall), otherwise stays (10%). Labels hold the original id at selected
// positions and -100 (ignored by the loss) everywhere else. The draws come from a seeded Rng, so the same
// seed masks the same positions.

import { AdaptlmError } from "../errors.js";
import type { Rng } from "../tensor/random.js";

export class MaskingError extends AdaptlmError {}

export const MLM_IGNORE_LABEL = -100;

export interface MlmMaskingOptions {
  maskTokenId: number;
  /** Random replacements are drawn from [0, vocabSize) (transformers: randint(len(tokenizer))). */
  vocabSize: number;
  /** Ids never selected: [CLS], [SEP], [PAD], [MASK], ... (the tokenizer's special tokens). */
  specialIds: ReadonlySet<number>;
  /** Default 0.15. */
  mlmProbability?: number;
  /** Default 0.8. */
  maskReplaceProbability?: number;
  /** Default 0.1 (of all selected tokens; transformers' random_replace_prob). */
  randomReplaceProbability?: number;
}

export interface MaskedTokens {
  inputIds: Int32Array;
  labels: Int32Array;
}

/** Masks `ids` (any flat layout, e.g. [batch * seq]); the input is not modified. */
export function maskTokens(ids: ArrayLike<number>, rng: Rng, options: MlmMaskingOptions): MaskedTokens {
  const p = options.mlmProbability ?? 0.15;
  const maskShare = options.maskReplaceProbability ?? 0.8;
  const randomShare = options.randomReplaceProbability ?? 0.1;
  if (!(p >= 0 && p <= 1) || !(maskShare >= 0) || !(randomShare >= 0) || maskShare + randomShare > 1) {
    throw new MaskingError(
      "BAD_MASKING_OPTION",
      `masking probabilities must lie in [0, 1] with mask + random <= 1; got mlm ${p}, mask ${maskShare}, random ${randomShare}`,
    );
  }
  if (!Number.isInteger(options.maskTokenId) || options.maskTokenId < 0) {
    throw new MaskingError(
      "NO_MASK_TOKEN",
      `masked-LM needs a [MASK] token id, got ${options.maskTokenId}: use a tokenizer with a mask token`,
    );
  }
  // transformers draws the random replacement among the tokens not turned into [MASK]:
  // P(random | not mask) = random / (1 - mask).
  const randomGivenNotMask = maskShare >= 1 ? 0 : randomShare / (1 - maskShare);
  const inputIds = Int32Array.from(ids);
  const labels = new Int32Array(inputIds.length).fill(MLM_IGNORE_LABEL);
  for (let i = 0; i < inputIds.length; i++) {
    const id = inputIds[i];
    if (options.specialIds.has(id)) continue;
    if (rng.next() >= p) continue;
    labels[i] = id;
    if (rng.next() < maskShare) inputIds[i] = options.maskTokenId;
    else if (rng.next() < randomGivenNotMask) inputIds[i] = rng.int(options.vocabSize);
  }
  return { inputIds, labels };
}
