// Many adapters on one frozen base model: switch the active one per task or request, or run one batch whose
// rows use different LoRA adapters (multi-LoRA serving: each LoRA delta is applied to its own rows only).

import type { TaskModel } from "../heads/task-model.js";
import type { ModelInputs } from "../models/model-inputs.js";
import { noGrad } from "../tensor/grad-mode.js";
import type { Tensor } from "../tensor/index.js";
import { LoraAdapter, LoraLinear } from "./lora.js";
import { type Adapter, forwardWithAdapter, PeftError } from "./method.js";

export class AdapterSet {
  private readonly adapters = new Map<string, Adapter>();
  private activeName: string | null = null;

  constructor(readonly model: TaskModel) {
    model.setRequiresGrad(false);
  }

  /** Registers a (detached) adapter under a name. */
  add(name: string, adapter: Adapter): this {
    if (this.adapters.has(name))
      throw new PeftError("ADAPTER_NAME_TAKEN", `an adapter named "${name}" is already in the set`);
    if (adapter.attached)
      throw new PeftError(
        "ADAPTER_ATTACHED",
        `adapter "${name}" is attached to a model; detach it before adding it to a set`,
      );
    this.adapters.set(name, adapter);
    return this;
  }

  names(): string[] {
    return [...this.adapters.keys()];
  }

  get(name: string): Adapter {
    const a = this.adapters.get(name);
    if (!a)
      throw new PeftError(
        "ADAPTER_UNKNOWN",
        `no adapter named "${name}" (have: ${this.names().join(", ") || "none"})`,
      );
    return a;
  }

  get active(): string | null {
    return this.activeName;
  }

  /** Makes name the active adapter (null: the plain base model). */
  use(name: string | null): Adapter | null {
    if (name === this.activeName) return name ? this.get(name) : null;
    const next = name ? this.get(name) : null;
    if (this.activeName) this.get(this.activeName).detach();
    this.activeName = null;
    if (next) {
      next.attach(this.model);
      this.activeName = name;
    }
    return next;
  }

  /** Outputs (and loss with targets) with the named adapter active. */
  forward(name: string | null, inputs: ModelInputs, targets?: Record<string, Tensor>) {
    const adapter = this.use(name);
    return forwardWithAdapter(this.model, adapter, inputs, targets);
  }

  /**
   * One batch, row b run with LoRA adapter rowAdapters[b] (null: the base model). The adapters must not
   * train the head (their rows would need different heads), so this is for causal LMs or a shared head.
   * Inference only (no gradients).
   */
  forwardMixed(inputs: ModelInputs, rowAdapters: readonly (string | null)[]): Record<string, Tensor> {
    const names = [...new Set(rowAdapters.filter((n): n is string => n !== null))];
    const loras = names.map((n) => {
      const a = this.get(n);
      if (!(a instanceof LoraAdapter))
        throw new PeftError(
          "ADAPTER_MIXED_UNSUPPORTED",
          `adapter "${n}" is ${a.peftType}; a mixed batch needs LoRA adapters`,
        );
      return a;
    });
    const previous = this.activeName;
    this.use(null);
    const attached: LoraAdapter[] = [];
    try {
      for (const a of loras) {
        a.attach(this.model);
        attached.push(a);
        const heads = this.model.headParameterNames();
        if (heads.length > 0 && a.state().has(heads[0])) {
          throw new PeftError(
            "ADAPTER_MIXED_UNSUPPORTED",
            "adapters with their own task head cannot share one batch: run them one after another with use()",
          );
        }
      }
      const layers = this.model.namedModules().filter(([, m]) => m instanceof LoraLinear) as [
        string,
        LoraLinear,
      ][];
      for (const [, layer] of layers)
        layer.rowAdapters = rowAdapters.map((n) => (n === null ? null : (this.get(n) as LoraAdapter).name));
      try {
        return noGrad(() => this.model.forwardOutputs(inputs));
      } finally {
        for (const [, layer] of layers) layer.rowAdapters = null;
      }
    } finally {
      for (const a of attached.reverse()) a.detach();
      this.model.setRequiresGrad(false);
      if (previous) this.use(previous);
    }
  }
}
