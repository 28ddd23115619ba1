// A causal LM with an attached prompt-tuning adapter, seen by generation and scoring as a plain causal LM: the
// first forward of a sequence (the prefill, or a whole-sequence scoring pass) goes through the adapter's
// prepareInputs, so the p virtual token embeddings sit in front of the prompt (positions 0..p-1, the real
// tokens from p, as PEFT's PeftModelForCausalLM.generate does); later decoding steps run as usual, the KV cache
// already holding the virtual positions, so default positions continue after them. Whole-sequence outputs drop
// the virtual positions, so logits line up with the real tokens. Only unpadded batches (one prompt with its n
// samples, what the server sends) are supported in decoding: a padded step's mask would not cover the virtual
// positions.

import { AdaptlmError } from "../errors.js";
import type { ModelInputs } from "../models/model-inputs.js";
import type { CausalLanguageModel } from "../models/registry.js";
import type { Adapter } from "../peft/method.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";

/** `adapter` must be attached to a task model over `base`'s modules (AdapterSet.use does that). */
export function promptTunedModel(base: CausalLanguageModel, adapter: Adapter): CausalLanguageModel {
  const virtual = adapter.virtualTokens;
  const config = { ...base.config, maxPositions: base.config.maxPositions - virtual };
  const view = {
    config,
    forward(inputs: ModelInputs): Tensor {
      const prefill = !inputs.cache || inputs.cache.length === 0;
      if (!prefill) {
        if (inputs.attentionMask || inputs.positionIds) {
          throw new AdaptlmError(
            "SERVE_PROMPT_TUNING_PADDED",
            "decoding a padded batch with a prompt-tuning adapter is not supported: send one prompt per request",
          );
        }
        return base.forward(inputs);
      }
      const logits = base.forward(adapter.prepareInputs(inputs)); // [batch, p + seq, vocab] or kept rows
      if (inputs.logitsToKeep !== undefined) return logits;
      const seq = logits.shape[1];
      return T.slice(logits, 1, virtual, seq);
    },
  };
  return view as unknown as CausalLanguageModel;
}
