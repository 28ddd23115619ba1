// Houlsby bottleneck adapters (Houlsby et al., 2019), as shared/golden/METHODS.md defines them for BERT:
// two per layer, on the attention-output projection and on the FFN output projection, each applied to the
// dense output before the residual and LayerNorm:  a(z) = z + up(act(down(z))), down Linear(d, m),
// up Linear(m, d), both with bias. Trainable: the adapters, every LayerNorm, and the task head.
// Names: `<layer>.attention.output.adapter.{down,up}.*`, `<layer>.output.adapter.{down,up}.*`.
// Initialisation: down normal(0, initializer_range), up zero (the adapter starts as the identity).

import type { TaskModel } from "../heads/task-model.js";
import { activation, Linear } from "../nn/layers.js";
import { Module } from "../nn/module.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";
import { Adapter, normParameterNames, PeftError, type PeftType } from "./method.js";

export class BottleneckAdapter extends Module {
  readonly down: Linear;
  readonly up: Linear;
  private readonly act: (x: Tensor) => Tensor;

  constructor(dim: number, bottleneck: number, nonLinearity: string, rng: T.Rng, std: number) {
    super();
    this.act = activation(nonLinearity);
    this.down = this.registerModule("down", new Linear(dim, bottleneck, { rng, std }));
    this.up = this.registerModule("up", new Linear(bottleneck, dim, { rng, std }));
    noGradZero(this.up.weight);
  }

  /** z [..., d] -> z + up(act(down(z))) */
  forward(z: Tensor): Tensor {
    return T.add(z, this.forwardChild("up", this.act(this.forwardChild("down", z))));
  }
}

function noGradZero(t: Tensor): void {
  t.data.fill(0);
}

export interface HoulsbyOptions {
  /** Bottleneck width m; default hidden / reductionFactor. */
  bottleneckSize?: number;
  /** m = d / reductionFactor when bottleneckSize is not given (16 by default). */
  reductionFactor?: number;
  nonLinearity?: string;
  /** Where to put adapters in each layer (default both). */
  locations?: ("attention.output" | "output")[];
  seed?: number;
  baseModelNameOrPath?: string | null;
  taskType?: string | null;
}

/** The residual-output modules of a BERT-style model that carry an `adapter` / `adapter_bias` hook. */
export function bertResidualOutputs(model: TaskModel, location: string): [string, Module][] {
  const pattern = new RegExp(`\\.layer\\.\\d+\\.${location.replace(".", "\\.")}$`);
  const found = model.namedModules().filter(([name]) => pattern.test(name));
  if (found.length === 0) {
    throw new PeftError(
      "ADAPTER_UNSUPPORTED_MODEL",
      `no BERT-style layers with "${location}" found in this ${model.config.modelType} model: Houlsby and AdapterBias adapters need BERT's residual-output hooks`,
    );
  }
  return found;
}

export class HoulsbyAdapter extends Adapter {
  readonly peftType: PeftType = "HOULSBY";
  private modules = new Map<string, BottleneckAdapter>();

  constructor(readonly houlsby: HoulsbyOptions = {}) {
    super(houlsby);
  }

  private get locations(): string[] {
    return this.houlsby.locations ?? ["attention.output", "output"];
  }

  protected insert(model: TaskModel): void {
    const d = model.config.hiddenSize;
    const m =
      this.houlsby.bottleneckSize ?? Math.max(1, Math.floor(d / (this.houlsby.reductionFactor ?? 16)));
    const rng = new T.Rng(this.houlsby.seed ?? 0);
    const std = (model.config.raw.initializer_range as number | undefined) ?? 0.02;
    for (const location of this.locations) {
      for (const [name, host] of bertResidualOutputs(model, location)) {
        let adapter = this.modules.get(name);
        if (!adapter) {
          adapter = new BottleneckAdapter(d, m, this.houlsby.nonLinearity ?? "gelu", rng, std);
          this.modules.set(name, adapter);
        }
        host.setModule("adapter", adapter);
      }
    }
  }

  protected remove(model: TaskModel): void {
    for (const [name, host] of model.namedModules()) if (this.modules.has(name)) host.deleteModule("adapter");
  }

  protected ownParameters(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, adapter] of this.modules)
      for (const [local, p] of adapter.namedParameters()) out.set(`${name}.adapter.${local}`, p);
    return out;
  }

  protected override sharedBaseParameters(model: TaskModel): string[] {
    return normParameterNames(model);
  }

  protected methodConfig(): Record<string, unknown> {
    return {
      bottleneck_size: this.houlsby.bottleneckSize ?? null,
      locations: this.locations,
      non_linearity: this.houlsby.nonLinearity ?? "gelu",
      reduction_factor: this.houlsby.bottleneckSize ? null : (this.houlsby.reductionFactor ?? 16),
      train_layer_norms: true,
    };
  }

  static fromPeftConfig(config: Record<string, unknown>): HoulsbyAdapter {
    return new HoulsbyAdapter({
      bottleneckSize: (config.bottleneck_size as number | null) ?? undefined,
      reductionFactor: (config.reduction_factor as number | null) ?? undefined,
      nonLinearity: (config.non_linearity as string | undefined) ?? "gelu",
      locations: (config.locations as HoulsbyOptions["locations"]) ?? undefined,
      baseModelNameOrPath: (config.base_model_name_or_path as string | null) ?? null,
      taskType: (config.task_type as string | null) ?? null,
    });
  }
}
