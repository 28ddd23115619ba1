// Parameter-efficient methods: freezing (no gradient buffers on frozen weights), detach restores the base
// model, LoRA merge/unmerge (Linear and Conv1D), prefix reparameterisation folded on save, save/load round
// trips of every method, the golden PEFT folders re-saved byte-for-byte in names and values, AdapterSet
// switching and a batch whose rows use different LoRA adapters.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { readGoldenCase } from "../../src/eval/conformance/golden-case.js";
import { goldenTaskModel } from "../../src/eval/conformance/head-cases.js";
import { CausalLMTaskModel } from "../../src/heads/causal-lm.js";
import { BertForSequenceClassification } from "../../src/heads/sequence-classification.js";
import type { TaskModel } from "../../src/heads/task-model.js";
import { parseHfConfig } from "../../src/io/hf-config.js";
import { GPT2LMHeadModel } from "../../src/models/gpt2.js";
import { LlamaForCausalLM } from "../../src/models/llama.js";
import { AdapterBiasAdapter } from "../../src/peft/adapter-bias.js";
import { AdapterSet } from "../../src/peft/adapter-set.js";
import {
  loadAdapter,
  readAdapterTensors,
  saveAdapter,
  summarizeAdapter,
} from "../../src/peft/adapter-store.js";
import { BitFitAdapter } from "../../src/peft/bitfit.js";
import { HoulsbyAdapter } from "../../src/peft/houlsby.js";
import { LoraAdapter } from "../../src/peft/lora.js";
import { type Adapter, forwardWithAdapter } from "../../src/peft/method.js";
import { PrefixTuningAdapter } from "../../src/peft/prefix.js";
import { PromptTuningAdapter } from "../../src/peft/prompt-tuning.js";
import * as T from "../../src/tensor/index.js";
import { sharedPath } from "../io/shared-paths.js";
import { makeTempDir } from "../io/temp-dir.js";

const bertConfig = parseHfConfig({
  model_type: "bert",
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 20,
  vocab_size: 30,
  max_position_embeddings: 32,
  type_vocab_size: 2,
  hidden_dropout_prob: 0,
  pad_token_id: 0,
});
const gpt2Config = parseHfConfig({
  model_type: "gpt2",
  n_embd: 16,
  n_layer: 2,
  n_head: 2,
  vocab_size: 30,
  n_positions: 32,
});
const llamaConfig = parseHfConfig({
  model_type: "llama",
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 24,
  vocab_size: 30,
  max_position_embeddings: 32,
});

const ids = (rows: number[][]) => T.tensor(rows.flat(), [rows.length, rows[0].length], "int32");
const bertInputs = () => ({
  inputIds: ids([
    [2, 5, 6, 3, 0],
    [2, 7, 3, 8, 3],
  ]),
  attentionMask: ids([
    [1, 1, 1, 1, 0],
    [1, 1, 1, 1, 1],
  ]),
  tokenTypeIds: ids([
    [0, 0, 0, 0, 0],
    [0, 0, 0, 1, 1],
  ]),
});
const lmInputs = () => ({
  inputIds: ids([
    [1, 5, 6, 7],
    [1, 8, 9, 0],
  ]),
  attentionMask: ids([
    [1, 1, 1, 1],
    [1, 1, 1, 0],
  ]),
});

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Adapters with non-trivial values everywhere (B of LoRA, up of Houlsby, v of AdapterBias start at zero). */
function perturb(adapter: Adapter, seed: number): void {
  const rng = new T.Rng(seed);
  const values = new Map(
    [...adapter.state()].map(([n, v]) => [n, { shape: v.shape, data: v.data.map(() => rng.normal() * 0.3) }]),
  );
  adapter.loadState(values);
}

const bertMethods: [string, () => Adapter][] = [
  ["bitfit", () => new BitFitAdapter()],
  ["houlsby", () => new HoulsbyAdapter({ bottleneckSize: 4, seed: 1 })],
  ["adapter-bias", () => new AdapterBiasAdapter({ seed: 1 })],
  ["lora", () => new LoraAdapter({ r: 2, alpha: 4, seed: 1 })],
  ["prefix", () => new PrefixTuningAdapter({ numVirtualTokens: 3, seed: 1 })],
  [
    "prefix+projection",
    () =>
      new PrefixTuningAdapter({ numVirtualTokens: 3, prefixProjection: true, encoderHiddenSize: 8, seed: 1 }),
  ],
  ["prompt", () => new PromptTuningAdapter({ numVirtualTokens: 4, seed: 1 })],
];

describe("every method on BERT sequence classification", () => {
  for (const [name, make] of bertMethods) {
    test(`${name}: only trainables get gradients; detach restores the base; save/load round trip`, () => {
      const model = new BertForSequenceClassification(bertConfig, { numLabels: 3, seed: 7 });
      const before = model.forward(bertInputs()).toArray();
      const baseWeights = new Map(model.namedParameters().map(([n, p]) => [n, p.toArray()]));
      const adapter = make().attach(model);
      perturb(adapter, 3);
      const trainable = adapter.trainableParameters();
      assert.ok(trainable.has("classifier.weight"), "the head is trained");
      const labels = { labels: T.tensor([0, 2], [2], "int32") };
      const { outputs, loss } = forwardWithAdapter(model, adapter, bertInputs(), labels);
      T.backward(loss as T.Tensor);
      for (const [n, p] of model.namedParameters()) {
        if ([...trainable.values()].includes(p)) continue;
        assert.equal(p.requiresGrad, false, `${n} is frozen`);
        assert.equal(p.grad, null, `${n} has no gradient buffer`);
      }
      for (const [n, p] of trainable) assert.ok(p.grad, `${n} has a gradient`);

      const dir = makeTempDir(`peft-${name}`);
      saveAdapter(adapter, dir);
      adapter.detach();
      assert.ok(
        maxDiff(model.forward(bertInputs()).toArray(), before) === 0,
        "detach restores the base outputs",
      );
      for (const [n, p] of model.namedParameters())
        assert.deepEqual(p.toArray(), baseWeights.get(n), `${n} restored`);

      const fresh = new BertForSequenceClassification(bertConfig, { numLabels: 3, seed: 7 });
      const loaded = loadAdapter(dir).attach(fresh);
      const again = forwardWithAdapter(fresh, loaded, bertInputs()).outputs.logits.toArray();
      assert.ok(maxDiff(again, outputs.logits.toArray()) < 1e-5, "the saved adapter reproduces the outputs");
      assert.equal(summarizeAdapter(dir).parameters, loaded.trainableCount());
    });
  }
});

describe("LoRA", () => {
  for (const [family, make] of [
    [
      "gpt2 (Conv1D, fan_in_fan_out)",
      () => new CausalLMTaskModel(new GPT2LMHeadModel(gpt2Config, { seed: 2 })),
    ],
    ["llama", () => new CausalLMTaskModel(new LlamaForCausalLM(llamaConfig, { seed: 2 }))],
  ] as [string, () => TaskModel][]) {
    test(`${family}: merge gives the same outputs, unmerge restores the weights`, () => {
      const model = make();
      const adapter = new LoraAdapter({ r: 2, alpha: 8, seed: 4 }).attach(model);
      perturb(adapter, 9);
      const weightsBefore = new Map(
        [...adapter.mergedWeights().keys()].map((n) => [n, (model.parameter(n) as T.Tensor).toArray()]),
      );
      const unmerged = T.noGrad(() => model.forwardOutputs(lmInputs()).logits.toArray());
      const expectedMerged = adapter.mergedWeights();
      adapter.merge();
      for (const [n, w] of expectedMerged)
        assert.ok(maxDiff((model.parameter(n) as T.Tensor).toArray(), w.data) < 1e-6);
      const merged = T.noGrad(() => model.forwardOutputs(lmInputs()).logits.toArray());
      assert.ok(maxDiff(merged, unmerged) < 1e-4);
      adapter.unmerge();
      for (const [n, w] of weightsBefore)
        assert.ok(maxDiff((model.parameter(n) as T.Tensor).toArray(), w) < 1e-6);
      const config = adapter.adapterConfig();
      assert.equal(config.fan_in_fan_out, family.startsWith("gpt2"));
      assert.deepEqual(config.target_modules, family.startsWith("gpt2") ? ["c_attn"] : ["q_proj", "v_proj"]);
    });
  }

  test("AdapterSet: switch per task; a batch whose rows use different LoRA adapters", () => {
    const model = new CausalLMTaskModel(new GPT2LMHeadModel(gpt2Config, { seed: 3 }));
    const set = new AdapterSet(model);
    const a = new LoraAdapter({ r: 2, seed: 1, name: "a" });
    const b = new LoraAdapter({ r: 2, seed: 2, name: "b" });
    for (const [adapter, seed] of [
      [a, 5],
      [b, 6],
    ] as [LoraAdapter, number][]) {
      adapter.attach(model);
      perturb(adapter, seed);
      adapter.detach();
    }
    set.add("a", a).add("b", b);
    const run = (name: string | null) =>
      T.noGrad(() => set.forward(name, lmInputs()).outputs.logits.toArray());
    const base = run(null);
    const withA = run("a");
    const withB = run("b");
    assert.ok(maxDiff(withA, base) > 1e-3 && maxDiff(withA, withB) > 1e-3);
    assert.equal(maxDiff(run(null), base), 0, "switching back to the base restores it");
    const mixed = set.forwardMixed(lmInputs(), ["a", "b"]).logits.toArray();
    const half = withA.length / 2;
    assert.ok(maxDiff(mixed.slice(0, half), withA.slice(0, half)) < 1e-5, "row 0 ran with adapter a");
    assert.ok(maxDiff(mixed.slice(half), withB.slice(half)) < 1e-5, "row 1 ran with adapter b");
    const mixedBase = set.forwardMixed(lmInputs(), [null, "a"]).logits.toArray();
    assert.ok(maxDiff(mixedBase.slice(0, half), base.slice(0, half)) < 1e-5);
  });
});

describe("AdapterSet with task heads", () => {
  test("adapters of different methods, each with its own head, take turns on one BERT", () => {
    const model = new BertForSequenceClassification(bertConfig, { numLabels: 3, seed: 8 });
    const set = new AdapterSet(model);
    const trained = new Map<string, number[]>();
    for (const [name, adapter, seed] of [
      ["sentiment", new LoraAdapter({ r: 2, seed: 1, name: "sentiment" }), 1],
      ["topic", new BitFitAdapter(), 2],
      ["nli", new PromptTuningAdapter({ numVirtualTokens: 2, seed: 3 }), 3],
    ] as [string, Adapter, number][]) {
      adapter.attach(model);
      perturb(adapter, seed);
      trained.set(
        name,
        T.noGrad(() => forwardWithAdapter(model, adapter, bertInputs()).outputs.logits.toArray()),
      );
      adapter.detach();
      set.add(name, adapter);
    }
    for (const name of ["topic", "sentiment", "nli", "topic"]) {
      const logits = T.noGrad(() => set.forward(name, bertInputs()).outputs.logits.toArray());
      assert.ok(
        maxDiff(logits, trained.get(name) as number[]) < 1e-6,
        `${name} gives its own outputs after switching`,
      );
    }
    assert.equal(set.active, "topic");
  });
});

describe("prefix tuning", () => {
  test("reparameterisation is folded into prompt_embeddings on save (Llama GQA shape)", () => {
    const model = new CausalLMTaskModel(new LlamaForCausalLM(llamaConfig, { seed: 1 }));
    const adapter = new PrefixTuningAdapter({
      numVirtualTokens: 3,
      prefixProjection: true,
      encoderHiddenSize: 6,
      seed: 2,
    }).attach(model);
    assert.ok([...adapter.trainableParameters().keys()].every((n) => n.startsWith("prompt_encoder.")));
    const before = T.noGrad(() => forwardWithAdapter(model, adapter, lmInputs()).outputs.logits.toArray());
    const dir = makeTempDir("prefix-fold");
    saveAdapter(adapter, dir);
    const saved = readAdapterTensors(dir);
    // token_dim = head_dim * num_key_value_heads = 4 * 2; width = layers * 2 * token_dim.
    assert.deepEqual(saved.get("prompt_embeddings")?.shape, [3, 2 * 2 * 8]);
    const config = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
    assert.equal(config.num_attention_heads, 2);
    assert.equal(config.token_dim, 8);
    adapter.detach();
    const loaded = loadAdapter(dir).attach(model);
    const after = T.noGrad(() => forwardWithAdapter(model, loaded, lmInputs()).outputs.logits.toArray());
    assert.ok(maxDiff(after, before) < 1e-5);
  });
});

test("virtual tokens beyond the position table give a typed error", () => {
  const model = new BertForSequenceClassification(bertConfig, { numLabels: 2 });
  const adapter = new PromptTuningAdapter({ numVirtualTokens: 30 }).attach(model);
  assert.throws(
    () => forwardWithAdapter(model, adapter, bertInputs()),
    /need 35 positions but the model has 32/,
  );
});

describe("golden PEFT folders", () => {
  const root = sharedPath("golden");
  const cases = readdirSync(join(root, "cases")).filter((c) => {
    try {
      return readdirSync(join(root, "cases", c)).includes("adapter");
    } catch {
      return false;
    }
  });
  test("there are adapter folders to check", () => assert.ok(cases.length >= 12));
  for (const name of cases) {
    test(`${name}: loading and saving again gives the same config and tensors`, () => {
      const c = readGoldenCase(root, name);
      const model = goldenTaskModel(c);
      const dir = join(root, c.spec.adapter_dir as string);
      const adapter = loadAdapter(dir).attach(model);
      const out = makeTempDir(`golden-${name}`);
      saveAdapter(adapter, out);
      const original = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
      const ours = JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8"));
      assert.equal(ours.base_model_name_or_path, original.base_model_name_or_path);
      for (const key of Object.keys(original))
        if (key !== "trainable") assert.deepEqual(ours[key], original[key], `${name}: ${key}`);
      const theirs = readAdapterTensors(dir);
      const mine = readAdapterTensors(out);
      assert.deepEqual([...mine.keys()].sort(), [...theirs.keys()].sort());
      for (const [n, t] of theirs) assert.deepEqual(mine.get(n)?.data, t.data, n);
    });
  }
});
