import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ConfigError, parseHfConfig, readHfConfig } from "../../src/io/hf-config.js";
import { sharedPath } from "./shared-paths.js";
import { makeTempDir } from "./temp-dir.js";

const temp = makeTempDir("config");

function expectConfigError(fn: () => unknown, code: string, ...fragments: RegExp[]): void {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const fragment of fragments) assert.match(error.message, fragment);
    return;
  }
  assert.fail(`expected ConfigError ${code}`);
}

// Real hub configs (abridged to the keys that matter), written out by hand.
const robertaBase = {
  architectures: ["RobertaForMaskedLM"],
  bos_token_id: 0,
  eos_token_id: 2,
  hidden_act: "gelu",
  hidden_size: 768,
  intermediate_size: 3072,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 514,
  model_type: "roberta",
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pad_token_id: 1,
  type_vocab_size: 1,
  vocab_size: 50265,
};
const distilbertBase = {
  activation: "gelu",
  architectures: ["DistilBertForMaskedLM"],
  dim: 768,
  hidden_dim: 3072,
  max_position_embeddings: 512,
  model_type: "distilbert",
  n_heads: 12,
  n_layers: 6,
  pad_token_id: 0,
  sinusoidal_pos_embds: false,
  vocab_size: 30522,
};
const qwen25 = {
  architectures: ["Qwen2ForCausalLM"],
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: "silu",
  hidden_size: 896,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 24,
  model_type: "qwen2",
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  use_sliding_window: false,
  vocab_size: 151936,
};
const mistral7b = {
  architectures: ["MistralForCausalLM"],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: "silu",
  hidden_size: 4096,
  intermediate_size: 14336,
  max_position_embeddings: 32768,
  model_type: "mistral",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  sliding_window: 4096,
  tie_word_embeddings: false,
  vocab_size: 32000,
};
const llama32 = {
  architectures: ["LlamaForCausalLM"],
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  head_dim: 64,
  hidden_act: "silu",
  hidden_size: 2048,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  model_type: "llama",
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_scaling: {
    factor: 32.0,
    high_freq_factor: 4.0,
    low_freq_factor: 1.0,
    original_max_position_embeddings: 8192,
    rope_type: "llama3",
  },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  vocab_size: 128256,
};

describe("hf-config: golden and HF-saved configs", () => {
  test("golden bert", () => {
    const c = readHfConfig(sharedPath("golden/models/bert/config.json"));
    assert.equal(c.family, "bert");
    assert.equal(c.modelType, "bert");
    assert.equal(c.baseModelPrefix, "bert");
    assert.deepEqual(
      [c.vocabSize, c.hiddenSize, c.numLayers, c.numHeads, c.numKvHeads, c.headDim, c.intermediateSize],
      [99, 32, 2, 4, 4, 8, 37],
    );
    assert.equal(c.maxPositions, 64);
    assert.equal(c.typeVocabSize, 2);
    assert.equal(c.layerNormEps, 1e-12);
    assert.equal(c.act, "gelu");
    assert.equal(c.norm, "layernorm");
    assert.equal(c.positionEmbedding, "learned");
    assert.equal(c.positionIdOffset, 0);
    assert.equal(c.padTokenId, 0);
    assert.equal(c.attentionBias && c.attentionOutputBias && c.mlpBias, true);
    assert.deepEqual(c.architectures, ["BertModel"]);
    assert.equal(c.torchDtype, "float32");
  });

  test("golden gpt2: n_inner null means 4 * n_embd, tied head by default", () => {
    const c = readHfConfig(sharedPath("golden/models/gpt2"));
    assert.equal(c.family, "gpt2");
    assert.equal(c.baseModelPrefix, "transformer");
    assert.deepEqual([c.vocabSize, c.hiddenSize, c.numLayers, c.numHeads, c.headDim], [99, 32, 2, 4, 8]);
    assert.equal(c.intermediateSize, 128);
    assert.equal(c.maxPositions, 64);
    assert.equal(c.act, "gelu_new");
    assert.equal(c.layerNormEps, 1e-5);
    assert.equal(c.tieWordEmbeddings, true);
    assert.equal(c.bosTokenId, 98);
    assert.equal(c.eosTokenId, 98);
    assert.equal(c.typeVocabSize, 0);
  });

  test("golden llama", () => {
    const c = readHfConfig(sharedPath("golden/models/llama/config.json"));
    assert.equal(c.family, "llama");
    assert.equal(c.baseModelPrefix, "model");
    assert.deepEqual(
      [c.vocabSize, c.hiddenSize, c.numLayers, c.numHeads, c.numKvHeads, c.headDim, c.intermediateSize],
      [99, 32, 2, 4, 2, 8, 40],
    );
    assert.equal(c.norm, "rmsnorm");
    assert.equal(c.layerNormEps, 1e-6);
    assert.equal(c.ropeTheta, 10000);
    assert.equal(c.ropeScaling, null);
    assert.equal(c.act, "silu");
    assert.equal(c.positionEmbedding, "rope");
    assert.equal(c.tieWordEmbeddings, false);
    assert.equal(c.attentionBias || c.attentionOutputBias || c.mlpBias, false);
    assert.deepEqual([c.padTokenId, c.bosTokenId, c.eosTokenId], [0, 1, 2]);
  });

  test("tiny GPT-2 saved by transformers (no tie_word_embeddings key)", () => {
    const c = readHfConfig(sharedPath("models/tiny-gpt2-hf-random"));
    assert.deepEqual(
      [c.vocabSize, c.hiddenSize, c.numLayers, c.numHeads, c.intermediateSize],
      [21, 2, 1, 1, 8],
    );
    assert.equal(c.maxPositions, 1024);
    assert.equal(c.tieWordEmbeddings, true);
    assert.equal(c.bosTokenId, 20);
    assert.equal(c.padTokenId, null);
    assert.deepEqual(c.architectures, ["GPT2Model"]);
  });
});

describe("hf-config: other model types", () => {
  test("roberta: positions start at pad + 1 and skip padding", () => {
    const c = parseHfConfig(robertaBase);
    assert.equal(c.family, "bert");
    assert.equal(c.baseModelPrefix, "roberta");
    assert.equal(c.padTokenId, 1);
    assert.equal(c.positionIdOffset, 2);
    assert.equal(c.positionIdsFromPadding, true);
    assert.equal(c.maxPositions, 514);
    assert.equal(c.typeVocabSize, 1);
    assert.equal(c.layerNormEps, 1e-5);
    assert.deepEqual([c.bosTokenId, c.eosTokenId], [0, 2]);
    // RobertaConfig defaults when the ids are absent: pad 1, bos 0, eos 2.
    const { pad_token_id: _p, bos_token_id: _b, eos_token_id: _e, ...bare } = robertaBase;
    const d = parseHfConfig(bare);
    assert.deepEqual([d.padTokenId, d.bosTokenId, d.eosTokenId, d.positionIdOffset], [1, 0, 2, 2]);
  });

  test("distilbert: its own key names, fixed eps, no token types, optional sinusoids", () => {
    const c = parseHfConfig(distilbertBase);
    assert.equal(c.family, "bert");
    assert.equal(c.baseModelPrefix, "distilbert");
    assert.deepEqual(
      [c.hiddenSize, c.numLayers, c.numHeads, c.intermediateSize, c.headDim],
      [768, 6, 12, 3072, 64],
    );
    assert.equal(c.layerNormEps, 1e-12);
    assert.equal(c.typeVocabSize, 0);
    assert.equal(c.positionEmbedding, "learned");
    assert.equal(c.act, "gelu");
    assert.equal(
      parseHfConfig({ ...distilbertBase, sinusoidal_pos_embds: true }).positionEmbedding,
      "sinusoidal",
    );
    assert.equal(parseHfConfig({ ...distilbertBase, activation: "relu" }).act, "relu");
  });

  test("qwen2: q/k/v biases but no o_proj bias; sliding window only when enabled", () => {
    const c = parseHfConfig(qwen25);
    assert.equal(c.family, "llama");
    assert.equal(c.modelType, "qwen2");
    assert.deepEqual([c.numHeads, c.numKvHeads, c.headDim], [14, 2, 64]);
    assert.equal(c.attentionBias, true);
    assert.equal(c.attentionOutputBias, false);
    assert.equal(c.mlpBias, false);
    assert.equal(c.ropeTheta, 1e6);
    assert.equal(c.tieWordEmbeddings, true);
    assert.equal(c.slidingWindow, null);
    assert.equal(c.torchDtype, "bfloat16");
    const windowed = parseHfConfig({ ...qwen25, use_sliding_window: true, sliding_window: 4096 });
    assert.deepEqual([windowed.slidingWindow, windowed.slidingWindowFromLayer], [4096, 24]);
    // Qwen2Config defaults bos/eos to None.
    const { bos_token_id: _b, eos_token_id: _e, ...bare } = qwen25;
    assert.deepEqual([parseHfConfig(bare).bosTokenId, parseHfConfig(bare).eosTokenId], [null, null]);
  });

  test("mistral: sliding window, and absent vs null num_key_value_heads / sliding_window", () => {
    const c = parseHfConfig(mistral7b);
    assert.deepEqual([c.numKvHeads, c.headDim, c.slidingWindow, c.slidingWindowFromLayer], [8, 128, 4096, 0]);
    assert.equal(c.attentionBias, false);
    const { num_key_value_heads: _k, sliding_window: _s, ...bare } = mistral7b;
    assert.deepEqual([parseHfConfig(bare).numKvHeads, parseHfConfig(bare).slidingWindow], [8, 4096]);
    const nulls = parseHfConfig({ ...mistral7b, num_key_value_heads: null, sliding_window: null });
    assert.deepEqual([nulls.numKvHeads, nulls.slidingWindow], [32, null]);
  });

  test("llama: explicit head_dim, llama3 rope scaling, eos list, defaults", () => {
    const c = parseHfConfig(llama32);
    assert.equal(c.headDim, 64);
    assert.deepEqual(c.eosTokenId, [128001, 128008, 128009]);
    assert.equal(c.ropeTheta, 500000);
    assert.equal(c.ropeScaling?.ropeType, "llama3");
    assert.equal(c.ropeScaling?.factor, 32);
    assert.equal(c.ropeScaling?.parameters.original_max_position_embeddings, 8192);
    assert.equal(c.tieWordEmbeddings, true);
    const minimal = parseHfConfig({
      model_type: "llama",
      hidden_size: 64,
      intermediate_size: 172,
      num_attention_heads: 8,
      num_hidden_layers: 5,
      vocab_size: 512,
    });
    assert.deepEqual(
      [minimal.numKvHeads, minimal.headDim, minimal.maxPositions, minimal.layerNormEps, minimal.ropeTheta],
      [8, 8, 2048, 1e-6, 10000],
    );
    assert.deepEqual([minimal.bosTokenId, minimal.eosTokenId, minimal.padTokenId], [1, 2, null]);
    assert.equal(minimal.tieWordEmbeddings, false);
    const biased = parseHfConfig({ ...llama32, attention_bias: true, mlp_bias: true });
    assert.deepEqual([biased.attentionBias, biased.attentionOutputBias, biased.mlpBias], [true, true, true]);
  });

  test("newer rope_parameters layout and legacy rope_scaling.type", () => {
    const { rope_scaling: _r, rope_theta: _t, ...bare } = llama32;
    const plain = parseHfConfig({ ...bare, rope_parameters: { rope_type: "default", rope_theta: 250000 } });
    assert.deepEqual([plain.ropeTheta, plain.ropeScaling], [250000, null]);
    const linear = parseHfConfig({ ...bare, rope_scaling: { type: "linear", factor: 2 } });
    assert.deepEqual(
      [linear.ropeScaling?.ropeType, linear.ropeScaling?.factor, linear.ropeTheta],
      ["linear", 2, 10000],
    );
  });

  test("activation aliases normalise; id2label becomes labels", () => {
    assert.equal(parseHfConfig({ ...mistral7b, hidden_act: "swish" }).act, "silu");
    assert.equal(parseHfConfig({ ...robertaBase, hidden_act: "gelu_pytorch_tanh" }).act, "gelu_new");
    const c = parseHfConfig({ ...robertaBase, id2label: { "1": "POSITIVE", "0": "NEGATIVE" } });
    assert.deepEqual(c.labels, ["NEGATIVE", "POSITIVE"]);
    assert.equal(parseHfConfig(robertaBase).labels, null);
  });
});

describe("hf-config: errors name the problem and the file", () => {
  test("unknown or missing model_type lists the supported ones", () => {
    expectConfigError(
      () => parseHfConfig({ model_type: "t5" }, "t5/config.json"),
      "CONFIG_UNKNOWN_MODEL_TYPE",
      /t5\/config\.json/,
      /"t5"/,
      /bert, roberta, distilbert, gpt2, llama, mistral, qwen2/,
    );
    expectConfigError(() => parseHfConfig({ hidden_size: 3 }), "CONFIG_UNKNOWN_MODEL_TYPE", /missing/);
  });

  test("missing and invalid fields", () => {
    const { hidden_size: _h, ...noHidden } = mistral7b;
    expectConfigError(
      () => parseHfConfig(noHidden, "m/config.json"),
      "CONFIG_MISSING_FIELD",
      /m\/config\.json/,
      /"hidden_size"/,
    );
    const { n_embd: _n, ...noEmbd } = {
      model_type: "gpt2",
      n_embd: 8,
      n_head: 2,
      n_layer: 1,
      vocab_size: 10,
    };
    expectConfigError(() => parseHfConfig(noEmbd), "CONFIG_MISSING_FIELD", /"n_embd"/);
    expectConfigError(
      () => parseHfConfig({ ...robertaBase, hidden_size: "768" }),
      "CONFIG_INVALID_FIELD",
      /"hidden_size"/,
      /string/,
    );
    expectConfigError(
      () => parseHfConfig({ ...robertaBase, num_hidden_layers: 0 }),
      "CONFIG_INVALID_FIELD",
      /num_hidden_layers/,
    );
    expectConfigError(
      () => parseHfConfig({ ...robertaBase, layer_norm_eps: -1 }),
      "CONFIG_INVALID_FIELD",
      /layer_norm_eps/,
    );
    expectConfigError(
      () => parseHfConfig({ ...robertaBase, num_attention_heads: 7 }),
      "CONFIG_INVALID_FIELD",
      /768.*7/,
    );
    expectConfigError(
      () => parseHfConfig({ ...mistral7b, num_key_value_heads: 5 }),
      "CONFIG_INVALID_FIELD",
      /num_key_value_heads 5/,
    );
    expectConfigError(
      () => parseHfConfig({ ...llama32, eos_token_id: ["a"] }),
      "CONFIG_INVALID_FIELD",
      /eos_token_id/,
    );
    expectConfigError(
      () => parseHfConfig({ ...llama32, tie_word_embeddings: "yes" }),
      "CONFIG_INVALID_FIELD",
      /tie_word_embeddings/,
    );
    expectConfigError(() => parseHfConfig([1, 2]), "CONFIG_NOT_JSON");
  });

  test("valid for transformers but not implemented here", () => {
    expectConfigError(
      () => parseHfConfig({ ...robertaBase, position_embedding_type: "relative_key" }),
      "CONFIG_UNSUPPORTED",
      /relative_key/,
    );
    expectConfigError(
      () => parseHfConfig({ ...mistral7b, hidden_act: "mish" }),
      "CONFIG_UNSUPPORTED",
      /"mish"/,
      /gelu/,
    );
  });

  test("unreadable and non-JSON files", () => {
    expectConfigError(() => readHfConfig(join(temp, "absent")), "CONFIG_IO", /absent/);
    const dir = join(temp, "broken");
    mkdirSync(dir);
    writeFileSync(join(dir, "config.json"), "{ model_type: bert");
    expectConfigError(() => readHfConfig(dir), "CONFIG_NOT_JSON", /broken\/config\.json/);
  });
});
