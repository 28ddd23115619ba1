// AdapterBias (Fu et al., 2022), as shared/golden/METHODS.md defines it: per BERT layer a vector v [d] and a
// linear map alpha: d -> 1 with bias; with h the FFN input (the attention block's output) the shift
// alpha(h_t) * v is added to the FFN output before the residual and LayerNorm. Trainable: v, alpha, every
// LayerNorm and the task head. Names: `<layer>.output.adapter_bias.{vector, alpha.weight, alpha.bias}`.
// Initialisation: v zero (the shift starts at zero), alpha normal(0, initializer_range).

import type { TaskModel } from "../heads/task-model.js";
import { constantInit } from "../nn/init.js";
import { Linear } from "../nn/layers.js";
import { Module } from "../nn/module.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";
import { bertResidualOutputs } from "./houlsby.js";
import { Adapter, normParameterNames, type PeftType } from "./method.js";

export class AdapterBiasModule extends Module {
  readonly vector: Tensor;
  readonly alpha: Linear;

  constructor(dim: number, rng: T.Rng, std: number) {
    super();
    this.vector = this.registerParameter("vector", constantInit([dim], 0));
    this.alpha = this.registerModule("alpha", new Linear(dim, 1, { rng, std }));
  }

  /** h [batch, seq, d] -> shift [batch, seq, d] = alpha(h) * v */
  forward(h: Tensor): Tensor {
    return T.mul(this.forwardChild("alpha", h), this.vector);
  }
}

export class AdapterBiasAdapter extends Adapter {
  readonly peftType: PeftType = "ADAPTER_BIAS";
  private modules = new Map<string, AdapterBiasModule>();

  constructor(
    readonly adapterBias: {
      seed?: number;
      baseModelNameOrPath?: string | null;
      taskType?: string | null;
    } = {},
  ) {
    super(adapterBias);
  }

  protected insert(model: TaskModel): void {
    const rng = new T.Rng(this.adapterBias.seed ?? 0);
    const std = (model.config.raw.initializer_range as number | undefined) ?? 0.02;
    for (const [name, host] of bertResidualOutputs(model, "output")) {
      let m = this.modules.get(name);
      if (!m) {
        m = new AdapterBiasModule(model.config.hiddenSize, rng, std);
        this.modules.set(name, m);
      }
      host.setModule("adapter_bias", m);
    }
  }

  protected remove(model: TaskModel): void {
    for (const [name, host] of model.namedModules())
      if (this.modules.has(name)) host.deleteModule("adapter_bias");
  }

  protected ownParameters(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, m] of this.modules)
      for (const [local, p] of m.namedParameters()) out.set(`${name}.adapter_bias.${local}`, p);
    return out;
  }

  protected override sharedBaseParameters(model: TaskModel): string[] {
    return normParameterNames(model);
  }

  protected methodConfig(): Record<string, unknown> {
    return { location: "output", train_layer_norms: true };
  }

  static fromPeftConfig(config: Record<string, unknown>): AdapterBiasAdapter {
    return new AdapterBiasAdapter({
      baseModelNameOrPath: (config.base_model_name_or_path as string | null) ?? null,
      taskType: (config.task_type as string | null) ?? null,
    });
  }
}
