// Generation asks causal LMs for the last position's logits only (HF's logits_to_keep); inference runs each
// layer in its own memory scope. Both must leave the numbers unchanged.

import assert from "node:assert/strict";
import { test } from "node:test";
import { loadLocalModel } from "../../src/models/load-model.js";
import * as T from "../../src/tensor/index.js";
import { sharedPath } from "../io/shared-paths.js";

test("logitsToKeep gives the last rows of the full logits (tiny GPT-2 and stories260K)", () => {
  for (const path of ["models/tiny-gpt2-hf-random", "models/stories260K/stories260K.bin"]) {
    const loaded = loadLocalModel(sharedPath(path));
    const model = loaded.model as { forward(inputs: object): T.Tensor };
    T.scope(() =>
      T.noGrad(() => {
        const ids = [1, 5, 9, 3, 7, 2];
        const inputIds = T.tensor(ids, [1, ids.length], "int32");
        const full = model.forward({ inputIds });
        const vocab = full.shape[2];
        for (const keep of [1, 2]) {
          const kept = model.forward({ inputIds, logitsToKeep: keep });
          assert.deepEqual(kept.shape, [1, keep, vocab]);
          const expected = full.data.subarray((ids.length - keep) * vocab);
          const actual = kept.data;
          for (let i = 0; i < actual.length; i++) {
            assert.ok(Math.abs(actual[i] - expected[i]) < 1e-5, `${path} keep ${keep} element ${i}`);
          }
        }
        assert.throws(() => model.forward({ inputIds, logitsToKeep: 0 }), T.ShapeError);
      }),
    );
  }
});

test("inference frees each layer's intermediates; grad mode keeps them for backward", () => {
  const loaded = loadLocalModel(sharedPath("models/tiny-gpt2-hf-random"));
  const model = loaded.model as { forward(inputs: object): T.Tensor };
  const inputIds = T.tensor([1, 2, 3, 4], [1, 4], "int32");
  const liveAfter = (withGrad: boolean) =>
    T.scope(() => {
      const before = T.liveStorageCount();
      const logits = withGrad ? model.forward({ inputIds }) : T.noGrad(() => model.forward({ inputIds }));
      const live = T.liveStorageCount() - before;
      logits.dispose();
      return live;
    });
  const inference = liveAfter(false);
  const training = liveAfter(true);
  // Under noGrad only the embeddings' output, the last hidden state and the logits outlive their layer.
  assert.ok(inference < 12, `inference left ${inference} live buffers`);
  assert.ok(training > inference * 3, `grad mode kept ${training} vs inference ${inference}`);
});
