// BitFit (Ben Zaken et al., 2022): train only the bias terms — every parameter whose name ends in `.bias`
// (attention q/k/v/output, FFN, pooler and LayerNorm biases) — plus the task head. Nothing is added.
// Saved in PEFT's layout as peft_type BITFIT with names `base_model.model.<canonical>`.

import type { TaskModel } from "../heads/task-model.js";
import type { Tensor } from "../tensor/index.js";
import { Adapter, type PeftType } from "./method.js";

export class BitFitAdapter extends Adapter {
  readonly peftType: PeftType = "BITFIT";

  protected insert(_model: TaskModel): void {}

  protected remove(_model: TaskModel): void {}

  protected ownParameters(): Map<string, Tensor> {
    return new Map();
  }

  protected override sharedBaseParameters(model: TaskModel): string[] {
    return model
      .namedParameters()
      .map(([n]) => n)
      .filter((n) => n.endsWith(".bias"));
  }

  protected methodConfig(): Record<string, unknown> {
    return {
      trainable: "every parameter whose name ends in '.bias' (LayerNorm biases included) + task head",
    };
  }

  static fromPeftConfig(config: Record<string, unknown>): BitFitAdapter {
    return new BitFitAdapter({
      baseModelNameOrPath: (config.base_model_name_or_path as string | null) ?? null,
      taskType: (config.task_type as string | null) ?? null,
    });
  }
}
