// The one interface of the parameter-efficient methods (PEFT's tuners): an Adapter attaches to a task model,
// freezes everything else, lists its trainable parameters under canonical names (transformers' state_dict
// keys in the task model, see shared/golden/README.md), describes itself as PEFT's adapter_config.json,
// names its tensors as PEFT does inside adapter_model.safetensors, merges where the method allows, and
// detaches leaving the base model as it was.
//
// Every adapter owns the values of what it trains. Parameters it adds (LoRA A/B, bottleneck adapters,
// prompt_embeddings) live in its own modules; parameters it shares with the base model (the task head, which
// PEFT calls modules_to_save; BitFit's biases; the LayerNorms Houlsby and AdapterBias train) are copied into
// the model on attach and copied back out, the base values restored, on detach. So many adapters can take
// turns on one frozen base (AdapterSet).

import { AdaptlmError } from "../errors.js";
import type { TaskModel } from "../heads/task-model.js";
import type { ModelInputs } from "../models/model-inputs.js";
import { noGrad } from "../tensor/grad-mode.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";

/** PEFT's peft_type names; BITFIT, HOULSBY and ADAPTER_BIAS are adaptlm's (same folder layout). */
export type PeftType = "LORA" | "PREFIX_TUNING" | "PROMPT_TUNING" | "BITFIT" | "HOULSBY" | "ADAPTER_BIAS";

/** A tensor's values outside the engine (what adapter files hold). */
export interface StoredTensor {
  shape: number[];
  data: Float32Array;
}

export class PeftError extends AdaptlmError {}

/** Canonical names of every LayerNorm / RMSNorm parameter of a model (Houlsby and AdapterBias train them). */
export function normParameterNames(model: TaskModel): string[] {
  return model
    .namedParameters()
    .map(([n]) => n)
    .filter((n) =>
      /(^|\.)(LayerNorm|ln_[12f]|layernorm|input_layernorm|post_attention_layernorm|norm)\.(weight|bias)$/.test(
        n,
      ),
    );
}

function copyOf(t: Tensor): StoredTensor {
  return { shape: [...t.shape], data: Float32Array.from(t.data.subarray(0, t.size)) };
}

function setValues(name: string, target: Tensor, value: StoredTensor): void {
  if (
    value.data.length !== target.size ||
    value.shape.length !== target.rank ||
    value.shape.some((d, i) => d !== target.shape[i])
  ) {
    throw new PeftError(
      "ADAPTER_SHAPE_MISMATCH",
      `adapter tensor ${name} is [${value.shape.join(", ")}] but the model's is [${target.shape.join(", ")}]: the adapter was trained on another model configuration or head size`,
    );
  }
  noGrad(() => target.data.set(value.data));
}

export abstract class Adapter {
  abstract readonly peftType: PeftType;
  /** Positions this adapter puts in front of the real tokens (prompt tuning), 0 otherwise. */
  get virtualTokens(): number {
    return 0;
  }

  /** The model this adapter is attached to, or null. */
  protected model: TaskModel | null = null;
  /** PEFT task_type recorded in the config (taken from the model on attach). */
  protected taskType: string | null = null;
  /** Values not yet in the model: loaded from a file before attaching, or kept while detached. */
  private pending = new Map<string, StoredTensor>();
  /** Base values of the shared parameters, restored on detach. */
  private baseValues = new Map<string, Float32Array>();
  private sharedNames: string[] = [];

  /** The adapter_config.json this adapter was loaded from, if any (kept for saving a detached adapter). */
  sourceConfig: Record<string, unknown> | null = null;

  constructor(readonly options: { baseModelNameOrPath?: string | null; taskType?: string | null } = {}) {
    this.taskType = options.taskType ?? null;
  }

  get attached(): boolean {
    return this.model !== null;
  }

  /** The model, or a typed error when detached. */
  protected requireModel(): TaskModel {
    if (!this.model)
      throw new PeftError(
        "ADAPTER_DETACHED",
        `${this.peftType} adapter is not attached to a model: call attach(model) first`,
      );
    return this.model;
  }

  /** Adds the method's modules/tensors to the model (creating them on first use). */
  protected abstract insert(model: TaskModel): void;
  /** Removes what insert added. */
  protected abstract remove(model: TaskModel): void;
  /** The method's own parameters by canonical name (valid after insert). */
  protected abstract ownParameters(): Map<string, Tensor>;
  /** Base-model parameters this method trains besides the head (BitFit biases, LayerNorms). */
  protected sharedBaseParameters(_model: TaskModel): string[] {
    return [];
  }
  /** The method's keys of adapter_config.json (peft_type, task_type, base model and heads are added). */
  protected abstract methodConfig(): Record<string, unknown>;

  /** Attaches to model: inserts the method, freezes every other parameter, loads pending values. */
  attach(model: TaskModel): this {
    if (this.model)
      throw new PeftError(
        "ADAPTER_ATTACHED",
        `${this.peftType} adapter is already attached; detach it first`,
      );
    this.insert(model);
    this.model = model;
    this.taskType = model.taskType;
    model.setRequiresGrad(false);
    this.sharedNames = [...model.headParameterNames(), ...this.sharedBaseParameters(model)].filter(
      (n, i, all) => all.indexOf(n) === i,
    );
    const own = this.ownParameters();
    for (const [, p] of own) p.requiresGrad = true;
    for (const name of this.sharedNames) {
      const p = model.parameter(name) as Tensor;
      this.baseValues.set(name, Float32Array.from(p.data.subarray(0, p.size)));
      p.requiresGrad = true;
    }
    const trainable = this.trainableParameters();
    for (const [name, value] of this.pending) {
      const target = trainable.get(name);
      if (!target) {
        this.detach();
        throw new PeftError(
          "ADAPTER_TENSOR_UNKNOWN",
          `adapter tensor ${name} has no counterpart in this ${model.taskType} model: is it an adapter for another architecture or task?`,
        );
      }
      setValues(name, target, value);
    }
    this.pending.clear();
    return this;
  }

  /** Detaches: keeps the trained values in the adapter, restores the base model's shared parameters. */
  detach(): void {
    const model = this.requireModel();
    this.pending = this.state();
    for (const name of this.sharedNames) {
      const p = model.parameter(name) as Tensor;
      noGrad(() => p.data.set(this.baseValues.get(name) as Float32Array));
      p.requiresGrad = false;
    }
    for (const [, p] of this.ownParameters()) {
      p.requiresGrad = false;
      p.grad = null;
    }
    this.baseValues.clear();
    this.remove(model);
    this.model = null;
  }

  /** Trainable parameters by canonical name: the method's own, then the shared ones (head last). */
  trainableParameters(): Map<string, Tensor> {
    const model = this.requireModel();
    const out = new Map(this.ownParameters());
    for (const name of this.sharedNames) out.set(name, model.parameter(name) as Tensor);
    return out;
  }

  /** Number of trainable elements (attached), or of stored elements (detached). */
  trainableCount(): number {
    let total = 0;
    for (const [, v] of this.state()) total += v.data.length;
    return total;
  }

  /** The values of everything the adapter trains, by canonical name (copies). */
  state(): Map<string, StoredTensor> {
    if (!this.model)
      return new Map(
        [...this.pending].map(([n, v]) => [n, { shape: [...v.shape], data: Float32Array.from(v.data) }]),
      );
    const out = new Map<string, StoredTensor>();
    for (const [name, t] of this.trainableParameters()) out.set(name, copyOf(t));
    return out;
  }

  /** Sets values by canonical name (applied now when attached, else on attach). */
  loadState(values: ReadonlyMap<string, StoredTensor>): void {
    if (!this.model) {
      for (const [n, v] of values) this.pending.set(n, v);
      return;
    }
    const trainable = this.trainableParameters();
    for (const [name, value] of values) {
      const target = trainable.get(name);
      if (!target) throw new PeftError("ADAPTER_TENSOR_UNKNOWN", `adapter has no tensor ${name}`);
      setValues(name, target, value);
    }
  }

  /** The name of a canonical tensor inside adapter_model.safetensors (PEFT's naming). */
  savedTensorName(canonical: string): string {
    return `base_model.model.${canonical}`;
  }

  /** The canonical name of a tensor read from adapter_model.safetensors (PEFT wrappers stripped). */
  canonicalTensorName(saved: string): string {
    return saved
      .replace(/^base_model\.model\./, "")
      .replace(/^base_model\./, "")
      .replace(/\.modules_to_save(\.default)?\./, ".")
      .replace(/\.(lora_[AB])\.default\./, ".$1.");
  }

  /** The tensors of adapter_model.safetensors: saved name -> values. */
  savedTensors(): Map<string, StoredTensor> {
    const out = new Map<string, StoredTensor>();
    for (const [name, value] of this.savedState()) out.set(this.savedTensorName(name), value);
    return out;
  }

  /** What is saved, by canonical name (prefix tuning folds its reparameterisation here). */
  protected savedState(): Map<string, StoredTensor> {
    return this.state();
  }

  /** adapter_config.json as PEFT writes it. */
  adapterConfig(): Record<string, unknown> {
    if (!this.model && this.sourceConfig) return { ...this.sourceConfig };
    const heads = this.model ? [...this.model.headModules] : this.headModulesFromState();
    return {
      base_model_name_or_path: this.options.baseModelNameOrPath ?? null,
      inference_mode: true,
      modules_to_save: this.modulesToSave(heads),
      peft_type: this.peftType,
      revision: null,
      task_type: this.taskType,
      ...this.methodConfig(),
    };
  }

  /**
   * modules_to_save as recorded in the config. PEFT's own types write what PEFT's task models add:
   * SEQ_CLS / TOKEN_CLS models extend it with ["classifier", "score"] (peft_model.py), QA uses qa_outputs,
   * causal LMs none. adaptlm's own types (BitFit, Houlsby, AdapterBias) record the head modules themselves.
   */
  protected modulesToSave(heads: string[]): string[] | null {
    const peftNative =
      this.peftType === "LORA" || this.peftType === "PREFIX_TUNING" || this.peftType === "PROMPT_TUNING";
    if (peftNative && (this.taskType === "SEQ_CLS" || this.taskType === "TOKEN_CLS")) {
      return [...heads.filter((h) => h !== "classifier" && h !== "score"), "classifier", "score"];
    }
    return heads.length > 0 ? heads : null;
  }

  /** Head module names recorded for a detached adapter (from its config or stored state). */
  protected headModulesFromState(): string[] {
    const names = [...this.state().keys()];
    return ["classifier", "qa_outputs", "score"].filter((h) => names.some((n) => n.startsWith(`${h}.`)));
  }

  /** Model inputs as the method runs them (prefix and prompt tuning extend them). */
  prepareInputs(inputs: ModelInputs): ModelInputs {
    return inputs;
  }
}

/** Outputs (and the loss when targets are given) of a task model with an optional adapter, as PeftModel's forward. */
export function forwardWithAdapter(
  model: TaskModel,
  adapter: Adapter | null,
  inputs: ModelInputs,
  targets?: Record<string, Tensor>,
): { outputs: Record<string, Tensor>; loss: Tensor | null } {
  const virtualTokens = adapter?.virtualTokens ?? 0;
  const prepared = adapter ? adapter.prepareInputs(inputs) : inputs;
  const outputs = model.forwardOutputs(prepared, { virtualTokens });
  const loss = targets ? model.loss(outputs, targets, { virtualTokens }) : null;
  return { outputs, loss };
}

/** Ones [batch, count] in front of the attention mask (a prefix or prompt is always visible), if one is given. */
export function extendAttentionMask(mask: Tensor | undefined, count: number): Tensor | undefined {
  if (!mask) return undefined;
  const [batch, width] = mask.shape;
  const out = new Int32Array(batch * (width + count)).fill(1);
  const m = mask.ints;
  for (let b = 0; b < batch; b++)
    out.set(m.subarray(b * width, (b + 1) * width), b * (width + count) + count);
  return T.tensor(out, [batch, width + count], "int32");
}

/** A typed error when p virtual positions plus the sequence exceed a learned position table. */
export function checkPositions(model: TaskModel, virtual: number, seq: number, method: string): void {
  const c = model.config;
  if (c.positionEmbedding !== "learned") return;
  const limit = c.maxPositions - c.positionIdOffset;
  if (virtual + seq > limit) {
    throw new PeftError(
      "ADAPTER_TOO_LONG",
      `${method}: ${virtual} virtual tokens + ${seq} tokens need ${virtual + seq} positions but the model has ${limit}: truncate the inputs or use fewer virtual tokens`,
    );
  }
}
