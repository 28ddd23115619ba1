// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, exactly torch.optim.AdamW's update:
//   p <- p * (1 - lr * wd);  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
//   p <- p - lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps)
// Defaults are Hugging Face's (lr 5e-5, betas 0.9/0.999, eps 1e-8, weight decay 0).

import type { AdamWTensor, Backend } from "../backend/backend.js";
import { persistentZeros, type Tensor } from "../tensor/tensor.js";
import { Optimizer, type ParamGroup, type ParamUpdate } from "./optimizer.js";

export interface AdamWOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export class AdamW extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly moments = new Map<Tensor, { m: Tensor; v: Tensor }>();

  constructor(params: Tensor[] | ParamGroup[], options: AdamWOptions = {}) {
    super(params, options.lr ?? 5e-5);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
  }

  protected apply(updates: readonly ParamUpdate[]): void {
    // one backend call per backend (in practice one): see Backend.adamw
    const byBackend = new Map<Backend, AdamWTensor[]>();
    for (const { param, grad, group } of updates) {
      let tensors = byBackend.get(param.backend);
      if (!tensors) byBackend.set(param.backend, (tensors = []));
      const { m, v } = this.momentsFor(param);
      tensors.push({
        param: param.floats,
        grad: grad.floats,
        m: m.floats,
        v: v.floats,
        n: param.size,
        lr: this.lr * (group.lrScale ?? 1),
        weightDecay: group.weightDecay ?? this.weightDecay,
      });
    }
    const step = { beta1: this.beta1, beta2: this.beta2, eps: this.eps, step: this.stepCount };
    for (const [backend, tensors] of byBackend) backend.adamw(tensors, step);
  }

  private momentsFor(param: Tensor): { m: Tensor; v: Tensor } {
    let state = this.moments.get(param);
    if (!state) {
      state = zeroMoments(param);
      this.moments.set(param, state);
    }
    return state;
  }

  /** The moments of param (copies), or null before its first update. For checkpoints. */
  momentsOf(param: Tensor): { m: Float32Array; v: Float32Array } | null {
    const state = this.moments.get(param);
    if (!state) return null;
    return { m: Float32Array.from(state.m.floats), v: Float32Array.from(state.v.floats) };
  }

  /** Restores the moments of param (resuming from a checkpoint). */
  setMomentsOf(param: Tensor, m: ArrayLike<number>, v: ArrayLike<number>): void {
    const state = zeroMoments(param);
    state.m.floats.set(m);
    state.v.floats.set(v);
    this.moments.set(param, state);
  }

  /** Bytes of optimizer state held (two moments per trained parameter). */
  stateBytes(): number {
    let total = 0;
    for (const { m, v } of this.moments.values()) total += (m.size + v.size) * 4;
    return total;
  }
}

/** First and second moments of param, zero (kept outside any scope: they live as long as the optimizer). */
function zeroMoments(param: Tensor): { m: Tensor; v: Tensor } {
  return {
    m: persistentZeros(param.shape, param.dtype, param.backend),
    v: persistentZeros(param.shape, param.dtype, param.backend),
  };
}
