// Prefix tuning under the KV cache: the golden PEFT prefix adapters (Llama with RoPE and grouped KV heads, GPT-2
// with learned positions) decoded step by step through prefixTunedModel and a T.KVCache give, at every step
// and for every row of a left-padded batch, the logits of the adapter's own uncached forward over the whole
// sequence so far; and the prefix changes them (the cache really holds it).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CausalLMTaskModel } from "../../src/heads/causal-lm.js";
import { loadLocalModel } from "../../src/models/load-model.js";
import type { CausalLanguageModel } from "../../src/models/registry.js";
import { loadAdapter } from "../../src/peft/adapter-store.js";
import { forwardWithAdapter } from "../../src/peft/method.js";
import type { PrefixTuningAdapter } from "../../src/peft/prefix.js";
import { prefixTunedModel } from "../../src/serve/prefix-tuned-model.js";
import * as T from "../../src/tensor/index.js";
import { sharedPath } from "../io/shared-paths.js";

const cases = [
  { family: "llama", model: "golden/models/llama", adapter: "golden/cases/llama_clm_prefix/adapter" },
  { family: "gpt2", model: "golden/models/gpt2", adapter: "golden/cases/gpt2_clm_prefix/adapter" },
];

/** Row `b`'s logits at the last position, [vocab]. */
function lastRow(logits: T.Tensor, b: number): Float32Array {
  const [, seq, vocab] = logits.shape;
  return logits.data.subarray((b * seq + seq - 1) * vocab, (b * seq + seq) * vocab) as Float32Array;
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  let most = 0;
  for (let i = 0; i < a.length; i++) most = Math.max(most, Math.abs(a[i] - b[i]));
  return most;
}

for (const c of cases) {
  describe(`prefix tuning through the KV cache (${c.family})`, () => {
    test("cached decoding of a padded batch equals the uncached forward, step by step", () => {
      const loaded = loadLocalModel(sharedPath(c.model));
      const base = loaded.model as CausalLanguageModel;
      const taskModel = new CausalLMTaskModel(base);
      const adapter = loadAdapter(sharedPath(c.adapter)).attach(taskModel) as PrefixTuningAdapter;
      const view = prefixTunedModel(base, adapter);
      const vocab = base.config.vocabSize;
      // row 0 is left-padded by two positions (pad id 0, masked), row 1 is full
      const rows = [
        [0, 0, 5, 9, 3],
        [7, 2, 11, 4, 6],
      ];
      const mask = rows.map((row, b) => row.map((_, t) => (b === 0 && t < 2 ? 0 : 1)));
      const positions = mask.map((row) => {
        let next = 0;
        return row.map((m) => (m === 0 ? 0 : next++));
      });
      T.noGrad(() => {
        const cache = new T.KVCache(base.config.numLayers, 8);
        const flat = (rowsOf: number[][]) =>
          T.tensor(rowsOf.flat(), [rowsOf.length, rowsOf[0].length], "int32");
        // the prefix's p positions come first: real tokens continue after them, as in PEFT
        const inputsOf = (ids: number[][], m: number[][], pos: number[][]) => ({
          inputIds: flat(ids),
          attentionMask: flat(m),
          positionIds: flat(pos.map((row) => row.map((p) => p + adapter.numVirtualTokens))),
        });
        const uncached = (ids: number[][], m: number[][], pos: number[][]) =>
          forwardWithAdapter(taskModel, adapter, inputsOf(ids, m, pos)).outputs.logits;
        const cached = (ids: number[][], m: number[][], pos: number[][]) =>
          view.forward({ ...inputsOf(ids, m, pos), cache });
        let ids = rows.map((row) => [...row]);
        let m = mask.map((row) => [...row]);
        let pos = positions.map((row) => [...row]);
        let logits = cached(ids, m, pos);
        for (let step = 0; step < 4; step++) {
          const reference = uncached(ids, m, pos);
          for (let b = 0; b < 2; b++) {
            const difference = maxDifference(lastRow(logits, b), lastRow(reference, b));
            assert.ok(difference < 1e-4, `step ${step} row ${b}: ${difference}`);
          }
          // next token: a fixed id per row and step, so both paths see the same sequence
          const next = [1 + ((3 * step) % (vocab - 1)), 2 + ((5 * step) % (vocab - 2))];
          ids = ids.map((row, b) => [...row, next[b]]);
          m = m.map((row) => [...row, 1]);
          pos = pos.map((row) => [...row, (row[row.length - 1] ?? 0) + 1]);
          logits = cached(
            next.map((id) => [id]),
            m,
            pos.map((row) => [row[row.length - 1]]),
          );
        }
        assert.equal(cache.length, adapter.numVirtualTokens + rows[0].length + 4);
        // without the prefix the same ids give other logits: the cache did hold the adapter's keys/values
        const plain = base.forward({ inputIds: flat(ids), attentionMask: flat(m), positionIds: flat(pos) });
        assert.ok(maxDifference(lastRow(plain, 1), lastRow(uncached(ids, m, pos), 1)) > 1e-3);
      });
    });
  });
}
