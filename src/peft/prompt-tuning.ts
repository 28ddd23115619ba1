// Prompt tuning (Lester et al., 2021) with PEFT's semantics (peft_model.py, PromptEmbedding): one tensor
// `prompt_embeddings` [p, d] of virtual token embeddings put in front of the word embeddings of the input.
// The model then runs on p + L positions: the attention mask gets p ones in front, positions run over the
// extended sequence, BERT's virtual tokens have token type 0 (and the pooler reads the first virtual token),
// a causal LM's labels get p x -100 in front (the task model does that given virtualTokens).
//
// Initialisation (PEFT prompt_tuning_init): RANDOM = normal(0, 1) (torch.nn.Embedding's default);
// SAMPLE_VOCAB = rows of the word embedding table at random token ids; TEXT = the embeddings of the
// tokenised init text, repeated or cut to p tokens.

import type { TaskModel } from "../heads/task-model.js";
import type { ModelInputs } from "../models/model-inputs.js";
import { normalInit } from "../nn/init.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";
import { Adapter, checkPositions, extendAttentionMask, PeftError, type PeftType } from "./method.js";

export type PromptInit =
  | { kind: "random" }
  | { kind: "vocabulary" }
  /**
   * Token ids of the init text. PEFT uses `tokenizer(text)["input_ids"]`, i.e. with the tokenizer's
   * default special tokens ([CLS] ... [SEP], <s> ...): pass `tokenizer.encode(text).ids` to match it.
   */
  | { kind: "text"; text: string; tokenIds: readonly number[] };

export interface PromptTuningOptions {
  numVirtualTokens?: number;
  init?: PromptInit;
  seed?: number;
  baseModelNameOrPath?: string | null;
  taskType?: string | null;
  tokenizerNameOrPath?: string | null;
}

export class PromptTuningAdapter extends Adapter {
  readonly peftType: PeftType = "PROMPT_TUNING";
  readonly numVirtualTokens: number;
  private promptEmbeddings: Tensor | null = null;
  private tokenDim: number | null = null;
  private layers: number | null = null;
  private heads: number | null = null;

  constructor(readonly prompt: PromptTuningOptions = {}) {
    super(prompt);
    this.numVirtualTokens = prompt.numVirtualTokens ?? 20;
    if (!Number.isInteger(this.numVirtualTokens) || this.numVirtualTokens < 1)
      throw new PeftError(
        "PROMPT_TOKENS",
        `numVirtualTokens must be a positive integer, got ${this.numVirtualTokens}`,
      );
  }

  override get virtualTokens(): number {
    return this.numVirtualTokens;
  }

  protected insert(model: TaskModel): void {
    const d = model.config.hiddenSize;
    this.tokenDim = d;
    this.layers = model.config.numLayers;
    this.heads = model.config.numHeads;
    if (this.promptEmbeddings) return;
    const p = this.numVirtualTokens;
    const init = this.prompt.init ?? { kind: "random" };
    const rng = new T.Rng(this.prompt.seed ?? 0);
    const embeddings = normalInit([p, d], 1, rng);
    const table = model.wordEmbeddings().weight;
    const vocab = table.shape[0];
    let ids: number[] | null = null;
    if (init.kind === "vocabulary") ids = Array.from({ length: p }, () => Math.floor(rng.next() * vocab));
    if (init.kind === "text") {
      if (init.tokenIds.length === 0)
        throw new PeftError("PROMPT_INIT_TEXT", "prompt init text tokenised to no tokens");
      ids = Array.from({ length: p }, (_, i) => init.tokenIds[i % init.tokenIds.length]);
    }
    if (ids) {
      const src = table.data;
      ids.forEach((id, row) => {
        if (id < 0 || id >= vocab)
          throw new PeftError(
            "PROMPT_INIT_TEXT",
            `init token id ${id} is outside the vocabulary [0, ${vocab})`,
          );
        embeddings.data.set(src.subarray(id * d, (id + 1) * d), row * d);
      });
    }
    this.promptEmbeddings = embeddings;
  }

  protected remove(_model: TaskModel): void {}

  protected ownParameters(): Map<string, Tensor> {
    return new Map(this.promptEmbeddings ? [["prompt_embeddings", this.promptEmbeddings]] : []);
  }

  override prepareInputs(inputs: ModelInputs): ModelInputs {
    const model = this.requireModel();
    const prompts = this.promptEmbeddings as Tensor;
    const p = this.numVirtualTokens;
    const words = inputs.inputsEmbeds ?? model.wordEmbeddings().forward(inputs.inputIds as Tensor); // [batch, L, d]
    const [batch, seq, d] = words.shape;
    checkPositions(model, p, seq, "prompt tuning");
    const virtual = T.expand(T.reshape(prompts, [1, p, d]), [batch, p, d]);
    const prepended = (t: Tensor | undefined, value: (b: number, i: number) => number) => {
      if (!t) return undefined;
      const out = new Int32Array(batch * (p + seq));
      const src = t.ints;
      for (let b = 0; b < batch; b++) {
        for (let i = 0; i < p; i++) out[b * (p + seq) + i] = value(b, i);
        for (let i = 0; i < seq; i++)
          out[b * (p + seq) + p + i] = src[b * seq + i] + (t === inputs.positionIds ? p : 0);
      }
      return T.tensor(out, [batch, p + seq], "int32");
    };
    return {
      ...inputs,
      inputIds: undefined,
      inputsEmbeds: T.concat([virtual, words], 1),
      attentionMask: extendAttentionMask(inputs.attentionMask, p),
      tokenTypeIds: prepended(inputs.tokenTypeIds, () => 0),
      positionIds: prepended(inputs.positionIds, (_b, i) => i),
    };
  }

  override savedTensorName(canonical: string): string {
    return canonical === "prompt_embeddings" ? canonical : `base_model.${canonical}`;
  }

  protected methodConfig(): Record<string, unknown> {
    const init = this.prompt.init ?? { kind: "random" };
    return {
      num_attention_heads: this.heads,
      num_layers: this.layers,
      num_transformer_submodules: 1,
      num_virtual_tokens: this.numVirtualTokens,
      prompt_tuning_init:
        init.kind === "text" ? "TEXT" : init.kind === "vocabulary" ? "SAMPLE_VOCAB" : "RANDOM",
      prompt_tuning_init_text: init.kind === "text" ? init.text : null,
      token_dim: this.tokenDim,
      tokenizer_kwargs: null,
      tokenizer_name_or_path: this.prompt.tokenizerNameOrPath ?? null,
    };
  }

  static fromPeftConfig(config: Record<string, unknown>): PromptTuningAdapter {
    return new PromptTuningAdapter({
      numVirtualTokens: config.num_virtual_tokens as number,
      baseModelNameOrPath: (config.base_model_name_or_path as string | null) ?? null,
      taskType: (config.task_type as string | null) ?? null,
      tokenizerNameOrPath: (config.tokenizer_name_or_path as string | null) ?? null,
    });
  }
}
