// LoRA (Hu et al., 2021) with PEFT's semantics (tuners/lora/layer.py):
//   y = W x + b + (alpha / r) * B (A (dropout(x)))      A = lora_A [r, in], B = lora_B [out, r]
// on every target linear map (module names equal to, or ending in ".<target>"; PEFT's defaults per model
// type: bert query+value, gpt2 c_attn, llama q_proj+v_proj). GPT-2's Conv1D keeps A/B in these shapes; only
// merging transposes the delta (PEFT's fan_in_fan_out). Initialisation as PEFT's default: A
// kaiming-uniform (bound 1/sqrt(in)), B zero; "gaussian": A normal(0, 1/r).
//
// A wrapped layer keeps the base weight and bias under their own names (`query.weight`), and the active
// adapter's A and B as children `lora_A` / `lora_B`, so names are the canonical ones PEFT saves. It can hold
// several adapters at once (AdapterSet): one is active, or each row of a batch names the adapter it uses.

import type { TaskModel } from "../heads/task-model.js";
import { uniformInit } from "../nn/init.js";
import { Dropout, Linear } from "../nn/layers.js";
import { Module } from "../nn/module.js";
import { noGrad } from "../tensor/grad-mode.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";
import { Adapter, PeftError, type PeftType, type StoredTensor } from "./method.js";

export interface LoraWeights {
  name: string;
  loraA: Linear;
  loraB: Linear;
  scaling: number;
  dropout: Dropout;
}

export class LoraLinear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly adapters = new Map<string, LoraWeights>();
  private activeName: string | null = null;
  /** The adapter name merged into the weight, if any. */
  merged: string | null = null;
  /** When set, row b of the batch uses adapter rowAdapters[b] (null: none). */
  rowAdapters: readonly (string | null)[] | null = null;

  constructor(readonly base: Linear) {
    super();
    const frozen = base.weight.requiresGrad;
    this.weight = this.registerParameter("weight", base.weight);
    this.weight.requiresGrad = frozen;
    this.bias = base.bias;
    if (base.bias) {
      const biasFrozen = base.bias.requiresGrad;
      this.registerParameter("bias", base.bias);
      base.bias.requiresGrad = biasFrozen;
    }
  }

  get layout(): "outIn" | "inOut" {
    return this.base.layout;
  }

  get active(): string | null {
    return this.activeName;
  }

  addAdapter(weights: LoraWeights): void {
    this.adapters.set(weights.name, weights);
    this.setActive(weights.name);
  }

  removeAdapter(name: string): void {
    if (this.merged === name) this.unmerge();
    this.adapters.delete(name);
    if (this.activeName === name) this.setActive([...this.adapters.keys()].at(-1) ?? null);
  }

  setActive(name: string | null): void {
    this.activeName = name;
    const w = name ? this.adapters.get(name) : undefined;
    if (w) {
      this.setModule("lora_A", w.loraA);
      this.setModule("lora_B", w.loraB);
    } else {
      this.deleteModule("lora_A");
      this.deleteModule("lora_B");
    }
  }

  /** scaling * B A in the base weight's layout ([out, in], or [in, out] for Conv1D). */
  delta(name: string): Float32Array {
    const w = this.adapters.get(name) as LoraWeights;
    const a = w.loraA.weight.data; // [r, in]
    const b = w.loraB.weight.data; // [out, r]
    const [r, inF] = w.loraA.weight.shape;
    const outF = w.loraB.weight.shape[0];
    const out = new Float32Array(outF * inF);
    const conv = this.layout === "inOut";
    for (let o = 0; o < outF; o++) {
      for (let i = 0; i < inF; i++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += b[o * r + k] * a[k * inF + i];
        out[conv ? i * outF + o : o * inF + i] = w.scaling * s;
      }
    }
    return out;
  }

  /** W + scaling B A without changing the layer. */
  mergedWeight(name = this.activeName): Float32Array {
    if (!name) throw new PeftError("LORA_NO_ADAPTER", "no LoRA adapter is active on this layer");
    const d = this.delta(name);
    const w = this.weight.data;
    const out = new Float32Array(this.weight.size);
    const sign = this.merged === name ? 0 : 1;
    for (let i = 0; i < out.length; i++) out[i] = w[i] + sign * d[i];
    return out;
  }

  merge(): void {
    if (this.merged) return;
    const name = this.activeName;
    if (!name) return;
    const d = this.delta(name);
    noGrad(() => {
      const w = this.weight.data;
      for (let i = 0; i < d.length; i++) w[i] += d[i];
    });
    this.merged = name;
  }

  unmerge(): void {
    if (!this.merged) return;
    const d = this.delta(this.merged);
    noGrad(() => {
      const w = this.weight.data;
      for (let i = 0; i < d.length; i++) w[i] -= d[i];
    });
    this.merged = null;
  }

  private loraDelta(w: LoraWeights, x: Tensor): Tensor {
    w.dropout.training = this.training;
    const down = w.loraA.forward(w.dropout.forward(x));
    return T.mulScalar(w.loraB.forward(down), w.scaling);
  }

  forward(x: Tensor): Tensor {
    let y = T.linear(x, this.weight, this.bias, this.layout);
    if (this.rowAdapters) {
      const rows = this.rowAdapters;
      if (rows.length !== x.shape[0]) {
        throw new PeftError(
          "LORA_ROWS",
          `batch has ${x.shape[0]} rows but ${rows.length} row adapters were given`,
        );
      }
      for (const [name, w] of this.adapters) {
        if (!rows.includes(name) || this.merged === name) continue;
        const maskShape = [x.shape[0], ...x.shape.slice(1).map(() => 1)];
        const mask = T.tensor(
          rows.map((r) => (r === name ? 1 : 0)),
          maskShape,
          x.dtype === "float64" ? "float64" : "float32",
          x.backend,
        );
        y = T.add(y, T.mul(this.loraDelta(w, x), mask));
      }
      return y;
    }
    const name = this.activeName;
    if (!name || this.merged === name) return y;
    return T.add(y, this.loraDelta(this.adapters.get(name) as LoraWeights, x));
  }
}

/** PEFT's default LoRA target modules per model type (utils/constants.py). */
export function defaultLoraTargets(modelType: string, family: string): string[] {
  if (family === "gpt2") return ["c_attn"];
  if (family === "llama") return ["q_proj", "v_proj"];
  if (modelType === "distilbert") return ["q_lin", "v_lin"];
  return ["query", "value"];
}

export interface LoraOptions {
  r?: number;
  alpha?: number;
  dropout?: number;
  /** Module names (exact last component or dotted suffix); default PEFT's per model type. */
  targetModules?: string[];
  /** "kaiming" (PEFT's true: A kaiming-uniform, B zero) or "gaussian" (A normal(0, 1/r), B zero). */
  init?: "kaiming" | "gaussian";
  seed?: number;
  /** Adapter name (several LoRA adapters can share layers). */
  name?: string;
  baseModelNameOrPath?: string | null;
  taskType?: string | null;
}

let adapterCounter = 0;

export class LoraAdapter extends Adapter {
  readonly peftType: PeftType = "LORA";
  readonly name: string;
  readonly r: number;
  readonly alpha: number;
  readonly dropout: number;
  private targets: string[] | null;
  private fanInFanOut = false;
  /** Per wrapped module name: this adapter's weights. */
  private weights = new Map<string, LoraWeights>();

  constructor(readonly lora: LoraOptions = {}) {
    super(lora);
    this.r = lora.r ?? 8;
    this.alpha = lora.alpha ?? 8;
    this.dropout = lora.dropout ?? 0;
    this.targets = lora.targetModules ?? null;
    this.name = lora.name ?? `lora_${adapterCounter++}`;
    if (!Number.isInteger(this.r) || this.r < 1)
      throw new PeftError("LORA_RANK", `LoRA rank r must be a positive integer, got ${this.r}`);
  }

  get scaling(): number {
    return this.alpha / this.r;
  }

  targetModules(model?: TaskModel): string[] {
    if (this.targets) return this.targets;
    if (!model) return [];
    return defaultLoraTargets(model.config.modelType, model.config.family);
  }

  private static matches(name: string, targets: readonly string[]): boolean {
    return targets.some((t) => name === t || name.endsWith(`.${t}`));
  }

  protected insert(model: TaskModel): void {
    const targets = this.targetModules(model);
    const heads = model.headModules;
    const found: [string, Module, string, Linear | LoraLinear][] = [];
    for (const [name, module] of model.namedModules()) {
      if (!name || heads.some((h) => name === h || name.startsWith(`${h}.`))) continue;
      if (!LoraAdapter.matches(name, targets)) continue;
      if (!(module instanceof Linear) && !(module instanceof LoraLinear)) continue;
      const dot = name.lastIndexOf(".");
      const parentName = dot < 0 ? "" : name.slice(0, dot);
      const parent = model.namedModules().find(([n]) => n === parentName)?.[1] as Module;
      found.push([name, parent, name.slice(dot + 1), module]);
    }
    if (found.length === 0) {
      throw new PeftError(
        "LORA_NO_TARGETS",
        `LoRA target modules ${JSON.stringify(targets)} match no linear layer of this ${model.config.modelType} model: give targetModules with layer names such as ${defaultLoraTargets(model.config.modelType, model.config.family).join(", ")}`,
      );
    }
    const rng = new T.Rng(this.lora.seed ?? 0);
    for (const [name, parent, local, module] of found) {
      const wrapped = module instanceof LoraLinear ? module : parent.setModule(local, new LoraLinear(module));
      this.fanInFanOut = wrapped.layout === "inOut";
      let w = this.weights.get(name);
      if (!w) {
        const inF = wrapped.base.inFeatures;
        const outF = wrapped.base.outFeatures;
        const loraA = new Linear(inF, this.r, { rng, std: 1 / this.r }, { bias: false });
        if ((this.lora.init ?? "kaiming") === "kaiming")
          loraA.weight.data.set(uniformInit([this.r, inF], 1 / Math.sqrt(inF), rng).data);
        const loraB = new Linear(this.r, outF, { rng, std: 0 }, { bias: false });
        loraB.weight.data.fill(0);
        w = {
          name: this.name,
          loraA,
          loraB,
          scaling: this.scaling,
          dropout: new Dropout(this.dropout, new T.Rng((this.lora.seed ?? 0) + 1)),
        };
        this.weights.set(name, w);
      }
      wrapped.addAdapter(w);
    }
  }

  protected remove(model: TaskModel): void {
    for (const [name, module] of model.namedModules()) {
      if (!(module instanceof LoraLinear) || !this.weights.has(name)) continue;
      module.removeAdapter(this.name);
      if (module.adapters.size === 0) {
        const dot = name.lastIndexOf(".");
        const parentName = dot < 0 ? "" : name.slice(0, dot);
        const parent = model.namedModules().find(([n]) => n === parentName)?.[1] as Module;
        parent.setModule(name.slice(dot + 1), module.base);
      }
    }
  }

  protected ownParameters(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, w] of this.weights) {
      out.set(`${name}.lora_A.weight`, w.loraA.weight);
      out.set(`${name}.lora_B.weight`, w.loraB.weight);
    }
    return out;
  }

  /** The wrapped layers of the attached model (with this adapter). */
  layers(): [string, LoraLinear][] {
    const model = this.requireModel();
    return model.namedModules().filter(([name, m]) => m instanceof LoraLinear && this.weights.has(name)) as [
      string,
      LoraLinear,
    ][];
  }

  /** Makes this adapter the active one on its layers (when several share them). */
  activate(): void {
    for (const [, layer] of this.layers()) layer.setActive(this.name);
  }

  /** Base weight name -> W + (alpha/r) B A in the base layout, computed without changing the model. */
  mergedWeights(): Map<string, StoredTensor> {
    const out = new Map<string, StoredTensor>();
    for (const [name, layer] of this.layers())
      out.set(`${name}.weight`, { shape: [...layer.weight.shape], data: layer.mergedWeight(this.name) });
    return out;
  }

  /** Adds the delta into the base weights (inference without the extra matmuls). */
  merge(): void {
    for (const [, layer] of this.layers()) {
      layer.setActive(this.name);
      layer.merge();
    }
  }

  unmerge(): void {
    for (const [, layer] of this.layers()) if (layer.merged === this.name) layer.unmerge();
  }

  override detach(): void {
    this.unmerge();
    super.detach();
  }

  protected methodConfig(): Record<string, unknown> {
    const targets = this.targetModules(this.model ?? undefined);
    return {
      alpha_pattern: {},
      bias: "none",
      fan_in_fan_out: this.fanInFanOut,
      init_lora_weights: (this.lora.init ?? "kaiming") === "gaussian" ? "gaussian" : true,
      layers_pattern: null,
      layers_to_transform: null,
      lora_alpha: this.alpha,
      lora_dropout: this.dropout,
      r: this.r,
      rank_pattern: {},
      target_modules: targets,
      use_dora: false,
      use_rslora: false,
    };
  }

  static fromPeftConfig(config: Record<string, unknown>): LoraAdapter {
    const unsupported: string[] = [];
    if (config.use_dora === true) unsupported.push("use_dora");
    if (config.use_rslora === true) unsupported.push("use_rslora");
    if (config.bias !== undefined && config.bias !== "none")
      unsupported.push(`bias "${String(config.bias)}"`);
    for (const key of ["rank_pattern", "alpha_pattern"]) {
      const v = config[key] as Record<string, unknown> | undefined;
      if (v && Object.keys(v).length > 0) unsupported.push(key);
    }
    if (config.layers_to_transform !== undefined && config.layers_to_transform !== null)
      unsupported.push("layers_to_transform");
    if (unsupported.length > 0) {
      throw new PeftError(
        "LORA_UNSUPPORTED",
        `LoRA adapter uses ${unsupported.join(", ")}, which adaptlm does not support yet`,
      );
    }
    const targets = config.target_modules;
    if (typeof targets === "string") {
      throw new PeftError(
        "LORA_UNSUPPORTED",
        `LoRA target_modules given as a regular expression ("${targets}") is not supported: list the module names`,
      );
    }
    const adapter = new LoraAdapter({
      r: config.r as number,
      alpha: (config.lora_alpha as number | undefined) ?? 8,
      dropout: (config.lora_dropout as number | undefined) ?? 0,
      targetModules: (targets as string[] | undefined) ?? undefined,
      init: config.init_lora_weights === "gaussian" ? "gaussian" : "kaiming",
      baseModelNameOrPath: (config.base_model_name_or_path as string | null) ?? null,
      taskType: (config.task_type as string | null) ?? null,
    });
    adapter.fanInFanOut = config.fan_in_fan_out === true;
    return adapter;
  }
}
