// A causal LM with an attached prefix-tuning adapter, seen by generation and scoring as a plain causal LM.
// Prefix tuning gives every layer p extra keys and values (PEFT's past_key_values), so under the KV cache they
// are simply the cache's first p positions: the first forward of a sequence writes them into the empty cache,
// then runs the prompt after them. Positions therefore start at p, as in the uncached forward (and in PEFT,
// where the prompt's position ids follow the past length). Every attention mask the caller sends covers only
// its own tokens, so p ones are put in front of it at each step; padded batches work. Without a cache (a
// whole-sequence scoring pass) the adapter's own prepareInputs supplies the prefix as `past`.

import type { ModelInputs } from "../models/model-inputs.js";
import type { CausalLanguageModel } from "../models/registry.js";
import { extendAttentionMask } from "../peft/method.js";
import type { PrefixTuningAdapter } from "../peft/prefix.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";

/** `adapter` must be attached to a task model over `base`'s modules (AdapterSet.use does that). */
export function prefixTunedModel(
  base: CausalLanguageModel,
  adapter: PrefixTuningAdapter,
): CausalLanguageModel {
  const virtual = adapter.numVirtualTokens;
  const learnedPositions = base.config.positionEmbedding === "learned";
  // learned position tables lose the p positions the prefix occupies; RoPE models have no table to run out of
  const config = learnedPositions
    ? { ...base.config, maxPositions: base.config.maxPositions - virtual }
    : base.config;
  const view = {
    config,
    forward(inputs: ModelInputs): Tensor {
      const cache = inputs.cache;
      if (!cache) return base.forward(adapter.prepareInputs(inputs));
      if (cache.length === 0) {
        const [batch] = (inputs.inputIds ?? inputs.inputsEmbeds)?.shape ?? [1];
        T.noGrad(() =>
          T.scope(() => {
            for (const [layer, past] of adapter.pastKeyValues(batch).entries()) {
              cache.append(layer, past.key, past.value); // [batch, n_kv, p, head_dim], copied into the cache
            }
          }),
        );
      }
      return base.forward({ ...inputs, attentionMask: extendAttentionMask(inputs.attentionMask, virtual) });
    },
  };
  return view as unknown as CausalLanguageModel;
}
