// BERT-family encoders (BERT, RoBERTa) as in transformers' modeling_bert.py, with its parameter names:
// embeddings (word + position + token type, LayerNorm), a stack of post-norm layers (self-attention, output
// dense + residual + LayerNorm, intermediate dense + activation, output dense + residual + LayerNorm), and a
// tanh pooler over the first token. BertForMaskedLM adds the `cls.predictions` head, its decoder tied to the
// word embeddings.
//
// Hooks for parameter-efficient methods (found by name, so a method attaches by adding a child):
//   attention.output.adapter / output.adapter: applied to the dense output before the residual (Houlsby);
//   output.adapter_bias: a shift computed from the FFN input, added before the residual (AdapterBias).

import { currentBackend } from "../backend/registry.js";
import type { ModelConfig } from "../io/hf-config.js";
import { activation, Embedding, LayerNorm, Linear, Module, ModuleGroup, ModuleList } from "../nn/index.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";
import {
  attendsOwnKeysOnly,
  batchAndSeq,
  keyBias,
  keysAndValues,
  type ModelInputs,
  pastLength,
  positionIds,
} from "./model-inputs.js";

interface TensorMap {
  forward(x: Tensor): Tensor;
}

function init(seed: number, config: ModelConfig): { rng: T.Rng; std: number } {
  const range = (config.raw.initializer_range as number | undefined) ?? 0.02;
  return { rng: new T.Rng(seed), std: range };
}

export class BertEmbeddings extends Module {
  constructor(
    private readonly config: ModelConfig,
    seed: number,
  ) {
    super();
    const i = init(seed, config);
    const h = config.hiddenSize;
    this.registerModule("word_embeddings", new Embedding(config.vocabSize, h, i, config.padTokenId ?? -1));
    this.registerModule("position_embeddings", new Embedding(config.maxPositions, h, i));
    if (config.typeVocabSize > 0)
      this.registerModule("token_type_embeddings", new Embedding(config.typeVocabSize, h, i));
    this.registerModule("LayerNorm", new LayerNorm(h, config.layerNormEps));
  }

  /** [batch, seq, hidden]: LayerNorm(word + position + token type). */
  forward(inputs: ModelInputs): Tensor {
    const [batch, seq] = batchAndSeq(inputs);
    const words =
      inputs.inputsEmbeds ??
      (this.getModule("word_embeddings") as Embedding).forward(inputs.inputIds as Tensor);
    const positionTable = this.getModule("position_embeddings") as Embedding;
    const typeTable = this.getModule("token_type_embeddings") as Embedding | undefined;
    const first = this.config.positionIdOffset + pastLength(inputs);
    const fromPadding = this.config.positionIdsFromPadding && inputs.inputIds && !inputs.positionIds;
    if (!inputs.positionIds && !fromPadding && first + seq <= positionTable.count) {
      // Every row reads positions first.. and, without token types, type 0: [seq, hidden] rows added to all
      // of the batch, whose gradients are sums over it, instead of [batch, seq] lookups and scatter-adds.
      let shared = T.slice(positionTable.weight, 0, first, first + seq);
      if (typeTable && !inputs.tokenTypeIds) shared = T.add(shared, T.slice(typeTable.weight, 0, 0, 1));
      let x = T.add(words, shared);
      if (typeTable && inputs.tokenTypeIds) x = T.add(x, typeTable.forward(inputs.tokenTypeIds));
      return this.forwardChild("LayerNorm", x);
    }
    const positions = fromPadding
      ? robertaPositionIds(inputs.inputIds as Tensor, this.config.padTokenId ?? 1)
      : positionIds(inputs, this.config.positionIdOffset);
    let x = T.add(words, positionTable.forward(positions));
    if (typeTable) {
      const types = inputs.tokenTypeIds ?? T.zeros([batch, seq], "int32");
      x = T.add(x, typeTable.forward(types));
    }
    return this.forwardChild("LayerNorm", x);
  }
}

/** RoBERTa: real tokens count up from pad + 1, padding tokens sit at pad (create_position_ids_from_input_ids). */
function robertaPositionIds(ids: Tensor, pad: number): Tensor {
  const [batch, seq] = ids.shape;
  const values = new Array<number>(batch * seq);
  const data = ids.ints;
  for (let b = 0; b < batch; b++) {
    let count = 0;
    for (let t = 0; t < seq; t++) {
      const real = data[b * seq + t] !== pad;
      if (real) count++;
      values[b * seq + t] = real ? count + pad : pad;
    }
  }
  return T.tensor(values, [batch, seq], "int32");
}

export class BertSelfAttention extends Module {
  constructor(
    private readonly config: ModelConfig,
    seed: number,
  ) {
    super();
    const i = init(seed, config);
    const h = config.hiddenSize;
    for (const name of ["query", "key", "value"]) this.registerModule(name, new Linear(h, h, i));
  }

  /** hidden [batch, seq, hidden] -> context [batch, seq, hidden] */
  forward(hidden: Tensor, inputs: ModelInputs, layer: number, bias: Tensor | null): Tensor {
    const [batch, seq] = hidden.shape;
    const heads = this.config.numHeads;
    const headDim = this.config.headDim;
    if (attendsOwnKeysOnly(inputs, layer)) {
      // the projections attended as token rows, no heads permuted in or out
      const rows = (name: string) => T.reshape(this.forwardChild(name, hidden), [batch, seq, heads, headDim]);
      const context = T.attention(rows("query"), rows("key"), rows("value"), {
        keyBias: bias,
        layout: "tokens",
      });
      return T.reshape(context, [batch, seq, heads * headDim]);
    }
    const split = (x: Tensor) => T.permute(T.reshape(x, [batch, seq, heads, headDim]), [0, 2, 1, 3]); // [batch, heads, seq, headDim]
    const q = split(this.forwardChild("query", hidden));
    const kv = keysAndValues(
      inputs,
      layer,
      split(this.forwardChild("key", hidden)),
      split(this.forwardChild("value", hidden)),
    );
    const context = T.attention(q, kv.key, kv.value, {
      keyBias: bias,
      keyLength: kv.length,
      shared: kv.shared,
    });
    return T.reshape(T.permute(context, [0, 2, 1, 3]), [batch, seq, heads * headDim]);
  }
}

/** dense -> [adapter] -> LayerNorm(. + residual); the shape of both BertSelfOutput and BertOutput. */
export class BertResidualOutput extends Module {
  constructor(config: ModelConfig, inFeatures: number, seed: number) {
    super();
    this.registerModule("dense", new Linear(inFeatures, config.hiddenSize, init(seed, config)));
    this.registerModule("LayerNorm", new LayerNorm(config.hiddenSize, config.layerNormEps));
  }

  forward(x: Tensor, residual: Tensor): Tensor {
    let h = this.forwardChild("dense", x);
    const adapter = this.getModule("adapter") as TensorMap | undefined;
    if (adapter) h = adapter.forward(h);
    const shift = this.getModule("adapter_bias") as TensorMap | undefined;
    if (shift) h = T.add(h, shift.forward(residual));
    return this.forwardChild("LayerNorm", T.add(h, residual));
  }
}

export class BertAttention extends Module {
  readonly self: BertSelfAttention;
  readonly output: BertResidualOutput;

  constructor(config: ModelConfig, seed: number) {
    super();
    this.self = this.registerModule("self", new BertSelfAttention(config, seed));
    this.output = this.registerModule("output", new BertResidualOutput(config, config.hiddenSize, seed + 1));
  }
}

export class BertLayer extends Module {
  readonly attention: BertAttention;
  readonly output: BertResidualOutput;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: ModelConfig, seed: number) {
    super();
    this.act = activation(config.act);
    this.attention = this.registerModule("attention", new BertAttention(config, seed));
    this.registerModule(
      "intermediate",
      new ModuleGroup({
        dense: new Linear(config.hiddenSize, config.intermediateSize, init(seed + 2, config)),
      }),
    );
    this.output = this.registerModule(
      "output",
      new BertResidualOutput(config, config.intermediateSize, seed + 3),
    );
  }

  forward(hidden: Tensor, inputs: ModelInputs, layer: number, bias: Tensor | null): Tensor {
    const context = this.attention.self.forward(hidden, inputs, layer, bias);
    const attended = this.attention.output.forward(context, hidden);
    const intermediate = (this.getModule("intermediate") as Module).forwardChild("dense", attended);
    return this.output.forward(this.act(intermediate), attended);
  }
}

export interface BertOutputs {
  lastHiddenState: Tensor; // [batch, seq, hidden]
  poolerOutput: Tensor | null; // [batch, hidden]
}

/** The encoder: embeddings, layers, optional pooler. Parameter names without the "bert." prefix. */
export class BertModel extends Module {
  readonly embeddings: BertEmbeddings;
  readonly layers: ModuleList<BertLayer>;

  constructor(
    readonly config: ModelConfig,
    options: { seed?: number; pooler?: boolean } = {},
  ) {
    super();
    const seed = options.seed ?? 0;
    this.embeddings = this.registerModule("embeddings", new BertEmbeddings(config, seed));
    this.layers = new ModuleList(
      Array.from({ length: config.numLayers }, (_, l) => new BertLayer(config, seed + 10 * (l + 1))),
    );
    this.registerModule("encoder", new ModuleGroup({ layer: this.layers }));
    if (options.pooler ?? true) {
      const dense = new Linear(config.hiddenSize, config.hiddenSize, init(seed + 7, config));
      this.registerModule("pooler", new ModuleGroup({ dense }));
    }
  }

  forward(inputs: ModelInputs): BertOutputs {
    let hidden = this.embeddings.forward(inputs);
    const bias = keyBias(inputs, hidden.dtype === "float64" ? "float64" : "float32");
    this.layers.items.forEach((layer, l) => {
      const input = hidden;
      hidden = T.inferenceScope(() => layer.forward(input, inputs, l, bias));
    });
    const pooler = this.getModule("pooler");
    const first = pooler ? T.reshape(T.slice(hidden, 1, 0, 1), [hidden.shape[0], hidden.shape[2]]) : null; // [batch, hidden]
    const poolerOutput = pooler && first ? T.tanh(pooler.forwardChild("dense", first)) : null;
    return { lastHiddenState: hidden, poolerOutput };
  }
}

/** BertForMaskedLM: the encoder (no pooler) plus cls.predictions (transform dense + act + LayerNorm, tied decoder). */
export class BertForMaskedLM extends Module {
  readonly bert: BertModel;

  constructor(
    readonly config: ModelConfig,
    options: { seed?: number } = {},
  ) {
    super();
    const seed = options.seed ?? 0;
    this.bert = this.registerModule(config.baseModelPrefix, new BertModel(config, { seed, pooler: false }));
    this.head = new MaskedLMHead(config, this.bert.embeddings, seed + 5);
    this.registerModule("cls", new ModuleGroup({ predictions: this.head }));
  }

  private readonly head: MaskedLMHead;

  /** logits [batch, seq, vocab] */
  forward(inputs: ModelInputs): Tensor {
    const hidden = this.bert.forward(inputs).lastHiddenState;
    return this.head.forward(hidden);
  }
}

class MaskedLMHead extends Module {
  private readonly act: (x: Tensor) => Tensor;
  private readonly bias: Tensor;

  constructor(
    config: ModelConfig,
    private readonly embeddings: BertEmbeddings,
    seed: number,
  ) {
    super();
    this.act = activation(config.act);
    this.registerModule(
      "transform",
      new ModuleGroup({
        dense: new Linear(config.hiddenSize, config.hiddenSize, init(seed, config)),
        LayerNorm: new LayerNorm(config.hiddenSize, config.layerNormEps),
      }),
    );
    this.bias = this.registerParameter(
      "bias",
      T.persistentZeros([config.vocabSize], "float32", currentBackend()),
    );
  }

  forward(hidden: Tensor): Tensor {
    const transform = this.getModule("transform") as Module;
    const h = transform.forwardChild("LayerNorm", this.act(transform.forwardChild("dense", hidden)));
    const decoderWeight = (this.embeddings.getModule("word_embeddings") as Embedding).weight;
    return T.linear(h, decoderWeight, this.bias);
  }
}
