// What every optimizer shares: parameter groups with their own hyper-parameters, zeroing gradients, and the
// Hugging Face rule for which parameters get weight decay.

import { LayerNorm, RMSNorm } from "../nn/layers.js";
import type { Module } from "../nn/module.js";
import { noGrad } from "../tensor/grad-mode.js";
import type { Tensor } from "../tensor/tensor.js";

export interface ParamGroup {
  params: Tensor[];
  /** Overrides the optimizer's weight decay for this group. */
  weightDecay?: number;
  /** Multiplies the learning rate for this group (1 by default). */
  lrScale?: number;
}

/** A parameter to update, its accumulated gradient and its group. */
export interface ParamUpdate {
  param: Tensor;
  grad: Tensor;
  group: ParamGroup;
}

export abstract class Optimizer {
  readonly groups: ParamGroup[];
  /** Current learning rate; a schedule sets it before each step. */
  lr: number;
  stepCount = 0;

  constructor(params: Tensor[] | ParamGroup[], lr: number) {
    this.groups =
      params.length > 0 && "params" in (params[0] as object)
        ? (params as ParamGroup[])
        : [{ params: params as Tensor[] }];
    this.lr = lr;
  }

  /** Applies one update from the accumulated .grad of every parameter (parameters without grad are skipped). */
  step(): void {
    this.stepCount++;
    const updates: ParamUpdate[] = [];
    for (const group of this.groups) {
      for (const param of group.params) if (param.grad) updates.push({ param, grad: param.grad, group });
    }
    noGrad(() => this.apply(updates));
  }

  /** Updates every parameter of one step (all at once, so that a backend can run them as one call). */
  protected abstract apply(updates: readonly ParamUpdate[]): void;

  /** Zeroes every gradient (the next backward pass starts fresh). */
  zeroGrad(): void {
    for (const group of this.groups) {
      for (const p of group.params) p.zeroGrad();
    }
  }
}

/**
 * Splits a model's trainable parameters into a decayed group and a group without decay: biases and the
 * weights of LayerNorm/RMSNorm modules get none (transformers' Trainer.get_decay_parameter_names).
 */
export function weightDecayGroups(model: Module, weightDecay: number): ParamGroup[] {
  const noDecay = new Set<Tensor>();
  for (const [, module] of model.namedModules()) {
    if (module instanceof LayerNorm || module instanceof RMSNorm)
      for (const p of module.parameters()) noDecay.add(p);
  }
  const decay: Tensor[] = [];
  const plain: Tensor[] = [];
  for (const [name, p] of model.trainableParameters()) {
    if (noDecay.has(p) || name.endsWith("bias")) plain.push(p);
    else decay.push(p);
  }
  return [
    { params: decay, weightDecay },
    { params: plain, weightDecay: 0 },
  ];
}
