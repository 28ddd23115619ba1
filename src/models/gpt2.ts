// GPT-2 as in transformers' modeling_gpt2.py: token + learned position embeddings, pre-norm blocks
// (ln_1 -> causal self-attention with fused c_attn -> residual, ln_2 -> MLP c_fc / gelu_new / c_proj ->
// residual), a final ln_f and an LM head tied to the token embeddings. The linear layers are Conv1D, whose
// weights are stored [in, out].

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
  positionIds,
  positionsForLogits,
} from "./model-inputs.js";

function conv1d(inFeatures: number, outFeatures: number, config: ModelConfig, seed: number): Linear {
  const std = (config.raw.initializer_range as number | undefined) ?? 0.02;
  return new Linear(inFeatures, outFeatures, { rng: new T.Rng(seed), std }, { layout: "inOut" });
}

export class GPT2Block extends Module {
  private readonly act: (x: Tensor) => Tensor;

  constructor(
    private readonly config: ModelConfig,
    private readonly index: number,
    seed: number,
  ) {
    super();
    const d = config.hiddenSize;
    this.act = activation(config.act);
    this.registerModule("ln_1", new LayerNorm(d, config.layerNormEps));
    this.registerModule(
      "attn",
      new ModuleGroup({ c_attn: conv1d(d, 3 * d, config, seed), c_proj: conv1d(d, d, config, seed + 1) }),
    );
    this.registerModule("ln_2", new LayerNorm(d, config.layerNormEps));
    this.registerModule(
      "mlp",
      new ModuleGroup({
        c_fc: conv1d(d, config.intermediateSize, config, seed + 2),
        c_proj: conv1d(config.intermediateSize, d, config, seed + 3),
      }),
    );
  }

  /**
   * qkv [batch, seq, 3, heads, headDim] without cached or prefix keys: q, k and v sliced out as token rows and
   * attended without permuting heads -> context [batch, seq, hidden]
   */
  private attendRows(qkv: Tensor, bias: Tensor | null, scale: number): Tensor {
    const [batch, seq, , heads, headDim] = qkv.shape;
    const rows = (i: number) => T.reshape(T.slice(qkv, 2, i, i + 1), [batch, seq, heads, headDim]);
    const context = T.attention(rows(0), rows(1), rows(2), {
      causal: true,
      keyBias: bias,
      scale,
      layout: "tokens",
    });
    return T.reshape(context, [batch, seq, heads * headDim]);
  }

  /** qkv [batch, seq, 3, heads, headDim] attended with a KV cache or prefix keys -> context [batch, seq, hidden] */
  private attendHeads(qkv: Tensor, inputs: ModelInputs, bias: Tensor | null, scale: number): Tensor {
    const [batch, seq, , heads, headDim] = qkv.shape;
    const qkvHeads = T.permute(qkv, [2, 0, 3, 1, 4]); // [3, batch, heads, seq, headDim]
    const part = (i: number) => T.reshape(T.slice(qkvHeads, 0, i, i + 1), [batch, heads, seq, headDim]);
    const kv = keysAndValues(inputs, this.index, part(1), part(2));
    const context = T.attention(part(0), kv.key, kv.value, {
      causal: true,
      keyBias: bias,
      scale,
      keyLength: kv.length,
      shared: kv.shared,
    });
    return T.reshape(T.permute(context, [0, 2, 1, 3]), [batch, seq, heads * headDim]);
  }

  /** hidden [batch, seq, hidden] -> [batch, seq, hidden] */
  forward(hidden: Tensor, inputs: ModelInputs, bias: Tensor | null): Tensor {
    const [batch, seq] = hidden.shape;
    const heads = this.config.numHeads;
    const headDim = this.config.headDim;
    const attn = this.getModule("attn") as Module;
    const qkv = T.reshape(attn.forwardChild("c_attn", this.forwardChild("ln_1", hidden)), [
      batch,
      seq,
      3,
      heads,
      headDim,
    ]);
    let scale = 1 / Math.sqrt(headDim);
    if (this.config.scaleAttnByInverseLayerIdx) scale /= this.index + 1;
    const merged = attendsOwnKeysOnly(inputs, this.index)
      ? this.attendRows(qkv, bias, scale)
      : this.attendHeads(qkv, inputs, bias, scale);
    const attended = T.add(hidden, attn.forwardChild("c_proj", merged));
    const mlp = this.getModule("mlp") as Module;
    const inner = this.act(mlp.forwardChild("c_fc", this.forwardChild("ln_2", attended)));
    return T.add(attended, mlp.forwardChild("c_proj", inner));
  }
}

/** GPT2LMHeadModel: `transformer.*` backbone and the tied `lm_head`. */
export class GPT2LMHeadModel extends Module {
  readonly transformer: ModuleGroup;
  readonly blocks: ModuleList<GPT2Block>;
  private readonly lmHead: Tensor;

  constructor(
    readonly config: ModelConfig,
    options: { seed?: number } = {},
  ) {
    super();
    const seed = options.seed ?? 0;
    const std = (config.raw.initializer_range as number | undefined) ?? 0.02;
    const rng = new T.Rng(seed);
    this.blocks = new ModuleList(
      Array.from({ length: config.numLayers }, (_, l) => new GPT2Block(config, l, seed + 10 * (l + 1))),
    );
    const wte = new Embedding(config.vocabSize, config.hiddenSize, { rng, std });
    this.transformer = this.registerModule(
      "transformer",
      new ModuleGroup({
        wte,
        wpe: new Embedding(config.maxPositions, config.hiddenSize, { rng, std: 0.01 }),
        h: this.blocks,
        ln_f: new LayerNorm(config.hiddenSize, config.layerNormEps),
      }),
    );
    if (config.tieWordEmbeddings) {
      this.lmHead = wte.weight;
    } else {
      this.lmHead = this.registerModule(
        "lm_head",
        new Linear(config.hiddenSize, config.vocabSize, { rng, std }, { bias: false }),
      ).weight;
    }
  }

  /** Final hidden states [batch, seq, hidden]. */
  hiddenStates(inputs: ModelInputs): Tensor {
    batchAndSeq(inputs);
    const words =
      inputs.inputsEmbeds ??
      (this.transformer.getModule("wte") as Embedding).forward(inputs.inputIds as Tensor);
    let hidden = T.add(words, (this.transformer.getModule("wpe") as Embedding).forward(positionIds(inputs)));
    const bias = keyBias(inputs, hidden.dtype === "float64" ? "float64" : "float32");
    // Without gradients a layer's input is dead once the layer has run: giving it back to the pool now lets the
    // next layer reuse it, instead of every layer's output living until the caller's scope ends (12 x
    // [seq, hidden] floats for GPT-2-124M, 4.5 MB for a 128-token prompt). inputsEmbeds is the caller's.
    const freeInputs = !T.isGradEnabled();
    for (const block of this.blocks.items) {
      const input = hidden;
      hidden = T.inferenceScope(() => block.forward(input, inputs, bias));
      if (freeInputs && input !== inputs.inputsEmbeds) input.dispose();
    }
    return this.transformer.forwardChild("ln_f", hidden);
  }

  /** Next-token logits [batch, seq, vocab] ([batch, logitsToKeep, vocab] when that is set). */
  forward(inputs: ModelInputs): Tensor {
    return T.linear(positionsForLogits(this.hiddenStates(inputs), inputs), this.lmHead);
  }
}
