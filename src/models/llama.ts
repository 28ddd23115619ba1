// Llama-family decoders (Llama, Mistral, Qwen2; llama2.c checkpoints load into the same shape) as in
// transformers' modeling_llama.py: token embeddings, pre-norm blocks (RMSNorm -> grouped-query attention
// with rotary embeddings (rotate-half) -> residual, RMSNorm -> SwiGLU MLP -> residual), final RMSNorm and
// an LM head (tied or not).

import { AdaptlmError } from "../errors.js";
import type { ModelConfig } from "../io/hf-config.js";
import { Embedding, Linear, Module, ModuleGroup, ModuleList, RMSNorm } from "../nn/index.js";
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

/** inv_freq with the config's rope_scaling applied (none, "linear", or Llama 3's "llama3"). */
export function llamaInverseFrequencies(config: ModelConfig): Float64Array {
  const inv = T.ropeInverseFrequencies(config.headDim, config.ropeTheta ?? 10000);
  const scaling = config.ropeScaling;
  if (!scaling || scaling.ropeType === "default") return inv;
  const factor = scaling.factor ?? 1;
  if (scaling.ropeType === "linear") return inv.map((f) => f / factor);
  if (scaling.ropeType === "llama3") {
    const p = scaling.parameters as Record<string, number>;
    const low = p.low_freq_factor ?? 1;
    const high = p.high_freq_factor ?? 4;
    const original = p.original_max_position_embeddings ?? 8192;
    const lowWavelength = original / low;
    const highWavelength = original / high;
    return inv.map((f) => {
      const wavelength = (2 * Math.PI) / f;
      if (wavelength < highWavelength) return f;
      if (wavelength > lowWavelength) return f / factor;
      const smooth = (original / wavelength - low) / (high - low);
      return (1 - smooth) * (f / factor) + smooth * f;
    });
  }
  throw new AdaptlmError(
    "UNSUPPORTED_ROPE_SCALING",
    `rope_scaling type "${scaling.ropeType}" in ${config.source} is not supported (supported: default, linear, llama3)`,
  );
}

export class LlamaDecoderLayer extends Module {
  constructor(
    private readonly config: ModelConfig,
    private readonly index: number,
    private readonly invFreq: Float64Array,
    seed: number,
  ) {
    super();
    const d = config.hiddenSize;
    const std = (config.raw.initializer_range as number | undefined) ?? 0.02;
    const rng = new T.Rng(seed);
    const linear = (inF: number, outF: number, bias: boolean) =>
      new Linear(inF, outF, { rng, std }, { bias });
    const qDim = config.numHeads * config.headDim;
    const kvDim = config.numKvHeads * config.headDim;
    this.registerModule(
      "self_attn",
      new ModuleGroup({
        q_proj: linear(d, qDim, config.attentionBias),
        k_proj: linear(d, kvDim, config.attentionBias),
        v_proj: linear(d, kvDim, config.attentionBias),
        o_proj: linear(qDim, d, config.attentionOutputBias),
      }),
    );
    this.registerModule(
      "mlp",
      new ModuleGroup({
        gate_proj: linear(d, config.intermediateSize, config.mlpBias),
        up_proj: linear(d, config.intermediateSize, config.mlpBias),
        down_proj: linear(config.intermediateSize, d, config.mlpBias),
      }),
    );
    this.registerModule("input_layernorm", new RMSNorm(d, config.layerNormEps));
    this.registerModule("post_attention_layernorm", new RMSNorm(d, config.layerNormEps));
  }

  forward(hidden: Tensor, inputs: ModelInputs, positions: Tensor, bias: Tensor | null): Tensor {
    const [batch, seq] = hidden.shape;
    const { numHeads, numKvHeads, headDim } = this.config;
    const attn = this.getModule("self_attn") as Module;
    const normed = this.forwardChild("input_layernorm", hidden);
    const { slidingWindow, slidingWindowFromLayer } = this.config;
    const window = slidingWindow !== null && this.index >= slidingWindowFromLayer ? slidingWindow : 0;
    const rows = (name: string, n: number) =>
      T.reshape(attn.forwardChild(name, normed), [batch, seq, n, headDim]);
    let merged: Tensor;
    if (attendsOwnKeysOnly(inputs, this.index)) {
      // Token rows [batch, seq, n, headDim], no heads permuted in or out. As [batch * seq, n, 1, headDim] the
      // same memory is one position per row of heads: RoPE rotates every head of a token at its position.
      const rotated = (x: Tensor, n: number) =>
        T.reshape(T.rope(T.reshape(x, [batch * seq, n, 1, headDim]), positions, this.invFreq), [
          batch,
          seq,
          n,
          headDim,
        ]);
      const context = T.attention(
        rotated(rows("q_proj", numHeads), numHeads),
        rotated(rows("k_proj", numKvHeads), numKvHeads),
        rows("v_proj", numKvHeads),
        { causal: true, keyBias: bias, window, layout: "tokens" },
      );
      merged = T.reshape(context, [batch, seq, numHeads * headDim]);
    } else {
      const heads = (x: Tensor) => T.permute(x, [0, 2, 1, 3]); // [batch, n, seq, headDim]
      // RoPE is applied to the new keys before they join the cache, so cached and prefix keys are never re-rotated.
      const q = T.rope(heads(rows("q_proj", numHeads)), positions, this.invFreq);
      const kNew = T.rope(heads(rows("k_proj", numKvHeads)), positions, this.invFreq);
      const kv = keysAndValues(inputs, this.index, kNew, heads(rows("v_proj", numKvHeads)));
      const context = T.attention(q, kv.key, kv.value, {
        causal: true,
        keyBias: bias,
        keyLength: kv.length,
        window,
        shared: kv.shared,
      });
      merged = T.reshape(T.permute(context, [0, 2, 1, 3]), [batch, seq, numHeads * headDim]);
    }
    const attended = T.add(hidden, attn.forwardChild("o_proj", merged));
    const mlp = this.getModule("mlp") as Module;
    const x = this.forwardChild("post_attention_layernorm", attended);
    const gated = T.mul(T.silu(mlp.forwardChild("gate_proj", x)), mlp.forwardChild("up_proj", x));
    return T.add(attended, mlp.forwardChild("down_proj", gated));
  }
}

/** LlamaForCausalLM: `model.*` backbone and `lm_head`. */
export class LlamaForCausalLM extends Module {
  readonly model: ModuleGroup;
  readonly layers: ModuleList<LlamaDecoderLayer>;
  private readonly lmHead: Tensor;
  private readonly invFreq: Float64Array;

  constructor(
    readonly config: ModelConfig,
    options: { seed?: number } = {},
  ) {
    super();
    const seed = options.seed ?? 0;
    const std = (config.raw.initializer_range as number | undefined) ?? 0.02;
    const rng = new T.Rng(seed);
    this.invFreq = llamaInverseFrequencies(config);
    this.layers = new ModuleList(
      Array.from(
        { length: config.numLayers },
        (_, l) => new LlamaDecoderLayer(config, l, this.invFreq, seed + 10 * (l + 1)),
      ),
    );
    const embed = new Embedding(config.vocabSize, config.hiddenSize, { rng, std }, config.padTokenId ?? -1);
    this.model = this.registerModule(
      "model",
      new ModuleGroup({
        embed_tokens: embed,
        layers: this.layers,
        norm: new RMSNorm(config.hiddenSize, config.layerNormEps),
      }),
    );
    this.lmHead = config.tieWordEmbeddings
      ? embed.weight
      : this.registerModule(
          "lm_head",
          new Linear(config.hiddenSize, config.vocabSize, { rng, std }, { bias: false }),
        ).weight;
  }

  hiddenStates(inputs: ModelInputs): Tensor {
    batchAndSeq(inputs);
    let hidden =
      inputs.inputsEmbeds ??
      (this.model.getModule("embed_tokens") as Embedding).forward(inputs.inputIds as Tensor);
    const positions = positionIds(inputs);
    const bias = keyBias(inputs, hidden.dtype === "float64" ? "float64" : "float32");
    // Without gradients a layer's input is dead once the layer has run (as in gpt2.ts): freeing it now lets the
    // next layer reuse its memory. inputsEmbeds belongs to the caller.
    const freeInputs = !T.isGradEnabled();
    for (const layer of this.layers.items) {
      const input = hidden;
      hidden = T.inferenceScope(() => layer.forward(input, inputs, positions, bias));
      if (freeInputs && input !== inputs.inputsEmbeds) input.dispose();
    }
    return this.model.forwardChild("norm", hidden);
  }

  /** Next-token logits [batch, seq, vocab] ([batch, logitsToKeep, vocab] when that is set). */
  forward(inputs: ModelInputs): Tensor {
    return T.linear(positionsForLogits(this.hiddenStates(inputs), inputs), this.lmHead);
  }
}
