// BERT's embeddings add the default positions (and type 0 when no token types are given) as shared
// [seq, hidden] rows rather than per-token lookups. Both ways must give the same outputs and gradients.

import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHfConfig } from "../../src/io/hf-config.js";
import { BertModel } from "../../src/models/bert.js";
import * as T from "../../src/tensor/index.js";

function tinyBert(): BertModel {
  const config = parseHfConfig({
    model_type: "bert",
    hidden_size: 16,
    num_attention_heads: 2,
    intermediate_size: 32,
    num_hidden_layers: 1,
    vocab_size: 50,
    max_position_embeddings: 12,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    hidden_act: "gelu",
  });
  return new BertModel(config, { seed: 11 });
}

/** Loss sum(hidden * weights) and every embedding table's gradient, for the given model inputs. */
function outputsAndGradients(model: BertModel, inputs: object): Map<string, Float32Array> {
  const tables = ["word_embeddings", "position_embeddings", "token_type_embeddings"];
  const params = new Map(model.namedParameters());
  for (const p of params.values()) p.grad = null;
  const result = new Map<string, Float32Array>();
  T.scope(() => {
    const hidden = model.forward(inputs as never).lastHiddenState as T.Tensor;
    const weights = T.tensor(
      Float32Array.from({ length: hidden.size }, (_, i) => Math.sin(i)),
      hidden.shape,
    );
    T.backward(T.sum(T.mul(hidden, weights)));
    result.set("hidden", Float32Array.from(hidden.data));
  });
  for (const table of tables) {
    const grad = params.get(`embeddings.${table}.weight`)?.grad;
    assert.ok(grad, `${table} has a gradient`);
    result.set(table, Float32Array.from(grad.data));
  }
  return result;
}

function assertSame(a: Map<string, Float32Array>, b: Map<string, Float32Array>, label: string): void {
  for (const [name, expected] of a) {
    const actual = b.get(name) as Float32Array;
    // float32 sums in another order: the golden cases' gradient tolerance, 1e-4 of the largest value + 1e-6
    let worst = 0;
    let largest = 0;
    for (let i = 0; i < expected.length; i++) {
      worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
      largest = Math.max(largest, Math.abs(expected[i]));
    }
    assert.ok(worst <= 1e-4 * largest + 1e-6, `${label}: ${name} differs by ${worst} (largest ${largest})`);
  }
}

test("default positions and absent token types give the outputs and gradients of explicit ids", () => {
  const model = tinyBert();
  const [batch, seq] = [3, 7];
  const ids = Array.from({ length: batch * seq }, (_, i) => (i * 7 + 3) % 50);
  const inputIds = T.keep(T.tensor(ids, [batch, seq], "int32"));
  const positionIds = T.keep(
    T.tensor(
      Array.from({ length: batch * seq }, (_, i) => i % seq),
      [batch, seq],
      "int32",
    ),
  );
  const zeros = T.keep(T.zeros([batch, seq], "int32"));
  const explicit = outputsAndGradients(model, { inputIds, positionIds, tokenTypeIds: zeros });
  assertSame(explicit, outputsAndGradients(model, { inputIds }), "no positions, no token types");
  assertSame(explicit, outputsAndGradients(model, { inputIds, tokenTypeIds: zeros }), "no positions");
  assertSame(explicit, outputsAndGradients(model, { inputIds, positionIds }), "no token types");
  // row 0 of the type table carries the gradient, row 1 none; the position rows past seq none
  const grads = outputsAndGradients(model, { inputIds });
  assert.ok((grads.get("token_type_embeddings") as Float32Array).subarray(0, 16).some((v) => v !== 0));
  assert.ok((grads.get("token_type_embeddings") as Float32Array).subarray(16).every((v) => v === 0));
  assert.ok((grads.get("position_embeddings") as Float32Array).subarray(seq * 16).every((v) => v === 0));
});

test("a sequence longer than the position table is refused as before", () => {
  const model = tinyBert();
  const inputIds = T.tensor(new Array(13).fill(1), [1, 13], "int32");
  assert.throws(() => model.forward({ inputIds }), T.IndexRangeError);
});
