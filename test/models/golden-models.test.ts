// The three architectures against the PyTorch fixtures: BERT base forward, and GPT-2 / Llama causal-LM
// logits, loss and every gradient (full fine-tuning cases), on the current backend.

import assert from "node:assert/strict";
import { test } from "node:test";
import { causalLmLoss } from "../../src/heads/causal-lm.js";
import type { BertModel } from "../../src/models/bert.js";
import type { GPT2LMHeadModel } from "../../src/models/gpt2.js";
import type { LlamaForCausalLM } from "../../src/models/llama.js";
import * as T from "../../src/tensor/index.js";
import { assertAllClose, assertGradClose, intMatrix, loadGoldenModel, readCase } from "./golden.js";

test("bert_base_forward: last hidden state and pooler output", () => {
  const c = readCase("bert_base_forward");
  T.scope(() => {
    const model = loadGoldenModel(c.spec.model_dir) as BertModel;
    const out = T.noGrad(() =>
      model.forward({
        inputIds: intMatrix(c.inputs.input_ids as number[][]),
        attentionMask: intMatrix(c.inputs.attention_mask as number[][]),
        tokenTypeIds: intMatrix(c.inputs.token_type_ids as number[][]),
      }),
    );
    assert.deepEqual(out.lastHiddenState.shape, c.expected.get("last_hidden_state")!.shape);
    assertAllClose(
      out.lastHiddenState.data,
      c.expected.get("last_hidden_state")!.data,
      1e-4,
      "last_hidden_state",
    );
    assertAllClose(out.poolerOutput!.data, c.expected.get("pooler_output")!.data, 1e-4, "pooler_output");
  });
});

for (const name of ["gpt2_clm_full", "llama_clm_full"]) {
  test(`${name}: logits, loss and every gradient`, () => {
    const c = readCase(name);
    T.scope(() => {
      const model = loadGoldenModel(c.spec.model_dir) as GPT2LMHeadModel | LlamaForCausalLM;
      const logits = model.forward({
        inputIds: intMatrix(c.inputs.input_ids as number[][]),
        attentionMask: intMatrix(c.inputs.attention_mask as number[][]),
      });
      assertAllClose(logits.data, c.expected.get("logits")!.data, 1e-4, "logits");
      const loss = causalLmLoss(logits, intMatrix(c.inputs.labels as number[][]));
      assertAllClose([loss.item()], c.expected.get("loss")!.data, 1e-5, "loss");
      T.backward(loss);
      const params = new Map(model.namedParameters());
      for (const entry of c.spec.trainable ?? []) {
        const param = params.get(entry.name);
        assert.ok(param, `model has no parameter ${entry.name}`);
        assert.ok(param.grad, `${entry.name} got no gradient`);
        assertGradClose(param.grad.data, c.expected.get(`grad.${entry.name}`)!.data, `grad.${entry.name}`);
      }
      assert.equal(params.size, (c.spec.trainable ?? []).length, "trainable parameter count");
    });
  });
}
