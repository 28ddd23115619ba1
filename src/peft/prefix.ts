// Prefix tuning (Li & Liang, 2021) with PEFT's semantics (peft_model.get_prompt, PrefixEncoder):
// one tensor `prompt_embeddings` [p, L * 2 * token_dim] viewed as [p, 2L, n_kv, head_dim]; index 2l holds
// layer l's keys, 2l + 1 its values. It enters every layer as past_key_values: placed in front of the keys and
// values the tokens compute, seen by every query, never rotated (RoPE), and the real tokens' positions start
// at p. For grouped-query attention PEFT sizes it with token_dim = head_dim * num_key_value_heads and
// n_kv = num_key_value_heads (utils/other.py _prepare_prompt_learning_config).
//
// Optional reparameterisation (PEFT prefix_projection): during training the prefix is computed as
// transform(embedding) with transform = Linear(token_dim, encoder_hidden) -> tanh -> Linear(encoder_hidden,
// L * 2 * token_dim); saving folds it into the plain `prompt_embeddings` (PEFT's
// get_prompt_embedding_to_save), which is what a loaded adapter then uses.

import type { TaskModel } from "../heads/task-model.js";
import type { LayerPast, ModelInputs } from "../models/model-inputs.js";
import { normalInit } from "../nn/init.js";
import { Linear } from "../nn/layers.js";
import { noGrad } from "../tensor/grad-mode.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";
import {
  Adapter,
  checkPositions,
  extendAttentionMask,
  PeftError,
  type PeftType,
  type StoredTensor,
} from "./method.js";

export interface PrefixOptions {
  numVirtualTokens?: number;
  /** Train through the reparameterisation MLP (folded away on save). */
  prefixProjection?: boolean;
  /** Hidden width of that MLP (PEFT encoder_hidden_size; default the model width). */
  encoderHiddenSize?: number;
  seed?: number;
  baseModelNameOrPath?: string | null;
  taskType?: string | null;
}

interface PrefixGeometry {
  layers: number;
  kvHeads: number;
  headDim: number;
  tokenDim: number;
}

function geometry(model: TaskModel): PrefixGeometry {
  const c = model.config;
  return {
    layers: c.numLayers,
    kvHeads: c.numKvHeads,
    headDim: c.headDim,
    tokenDim: c.numKvHeads * c.headDim,
  };
}

export class PrefixTuningAdapter extends Adapter {
  readonly peftType: PeftType = "PREFIX_TUNING";
  readonly numVirtualTokens: number;
  private promptEmbeddings: Tensor | null = null;
  private projection: { embedding: Tensor; first: Linear; second: Linear } | null = null;
  private geom: PrefixGeometry | null = null;
  private encoderHidden: number | null = null;

  constructor(readonly prefix: PrefixOptions = {}) {
    super(prefix);
    this.numVirtualTokens = prefix.numVirtualTokens ?? 20;
    if (!Number.isInteger(this.numVirtualTokens) || this.numVirtualTokens < 1)
      throw new PeftError(
        "PREFIX_TOKENS",
        `numVirtualTokens must be a positive integer, got ${this.numVirtualTokens}`,
      );
  }

  protected insert(model: TaskModel): void {
    const g = geometry(model);
    if (this.geom && (this.geom.layers !== g.layers || this.geom.tokenDim !== g.tokenDim)) {
      throw new PeftError("PREFIX_MODEL", "this prefix was built for a model of another shape");
    }
    this.geom = g;
    if (this.promptEmbeddings || this.projection) return;
    const p = this.numVirtualTokens;
    const width = g.layers * 2 * g.tokenDim;
    const rng = new T.Rng(this.prefix.seed ?? 0);
    if (this.prefix.prefixProjection) {
      const hidden = this.prefix.encoderHiddenSize ?? model.config.hiddenSize;
      this.encoderHidden = hidden;
      const std = (model.config.raw.initializer_range as number | undefined) ?? 0.02;
      this.projection = {
        // torch.nn.Embedding's default initialisation is normal(0, 1).
        embedding: normalInit([p, g.tokenDim], 1, rng),
        first: new Linear(g.tokenDim, hidden, { rng, std }),
        second: new Linear(hidden, width, { rng, std }),
      };
    } else {
      this.promptEmbeddings = normalInit([p, width], 1, rng);
    }
  }

  protected remove(_model: TaskModel): void {}

  protected ownParameters(): Map<string, Tensor> {
    if (this.projection) {
      const { embedding, first, second } = this.projection;
      return new Map([
        ["prompt_encoder.embedding.weight", embedding],
        ["prompt_encoder.transform.0.weight", first.weight],
        ["prompt_encoder.transform.0.bias", first.bias as Tensor],
        ["prompt_encoder.transform.2.weight", second.weight],
        ["prompt_encoder.transform.2.bias", second.bias as Tensor],
      ]);
    }
    return new Map(this.promptEmbeddings ? [["prompt_embeddings", this.promptEmbeddings]] : []);
  }

  /** The prefix [p, L * 2 * token_dim]: the tensor itself, or the MLP's output when reparameterised. */
  prefixTensor(): Tensor {
    if (this.projection) {
      const { embedding, first, second } = this.projection;
      return second.forward(T.tanh(first.forward(embedding)));
    }
    if (!this.promptEmbeddings)
      throw new PeftError("ADAPTER_DETACHED", "prefix adapter is not attached to a model");
    return this.promptEmbeddings;
  }

  /** Per layer, prefix keys and values [batch, n_kv, p, head_dim]. */
  pastKeyValues(batch: number): LayerPast[] {
    const g = this.geom as PrefixGeometry;
    const p = this.numVirtualTokens;
    const viewed = T.reshape(this.prefixTensor(), [p, 2 * g.layers, g.kvHeads, g.headDim]);
    const byLayer = T.permute(viewed, [1, 2, 0, 3]); // [2L, n_kv, p, head_dim]
    const part = (i: number) => T.expand(T.slice(byLayer, 0, i, i + 1), [batch, g.kvHeads, p, g.headDim]);
    return Array.from({ length: g.layers }, (_, l) => ({ key: part(2 * l), value: part(2 * l + 1) }));
  }

  override prepareInputs(inputs: ModelInputs): ModelInputs {
    this.requireModel();
    const source = inputs.inputIds ?? inputs.inputsEmbeds;
    if (!source) throw new T.ShapeError("prefix tuning", "needs inputIds or inputsEmbeds");
    checkPositions(this.requireModel(), this.numVirtualTokens, source.shape[1], "prefix tuning");
    return {
      ...inputs,
      past: this.pastKeyValues(source.shape[0]),
      attentionMask: extendAttentionMask(inputs.attentionMask, this.numVirtualTokens),
    };
  }

  /** Saving folds the reparameterisation into prompt_embeddings (PEFT get_prompt_embedding_to_save). */
  protected override savedState(): Map<string, StoredTensor> {
    const state = this.state();
    if (!this.projection) return state;
    const folded = noGrad(() => T.scope(() => this.prefixTensor().toArray()));
    const out = new Map<string, StoredTensor>();
    out.set("prompt_embeddings", {
      shape: [this.numVirtualTokens, folded.length / this.numVirtualTokens],
      data: Float32Array.from(folded),
    });
    for (const [n, v] of state) if (!n.startsWith("prompt_encoder.")) out.set(n, v);
    return out;
  }

  override savedTensorName(canonical: string): string {
    return canonical === "prompt_embeddings" ? canonical : `base_model.${canonical}`;
  }

  protected methodConfig(): Record<string, unknown> {
    const g = this.geom;
    return {
      encoder_hidden_size: this.encoderHidden ?? this.prefix.encoderHiddenSize ?? g?.tokenDim ?? null,
      num_attention_heads: g?.kvHeads ?? null,
      num_layers: g?.layers ?? null,
      num_transformer_submodules: 1,
      num_virtual_tokens: this.numVirtualTokens,
      prefix_projection: this.projection !== null || this.prefix.prefixProjection === true,
      token_dim: g?.tokenDim ?? null,
    };
  }

  static fromPeftConfig(config: Record<string, unknown>): PrefixTuningAdapter {
    // A saved prefix is always the folded tensor (inference_mode), so it loads without the projection.
    return new PrefixTuningAdapter({
      numVirtualTokens: config.num_virtual_tokens as number,
      prefixProjection: false,
      encoderHiddenSize: (config.encoder_hidden_size as number | undefined) ?? undefined,
      baseModelNameOrPath: (config.base_model_name_or_path as string | null) ?? null,
      taskType: (config.task_type as string | null) ?? null,
    });
  }
}
