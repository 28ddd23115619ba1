// SGD with momentum and (coupled) weight decay, as torch.optim.SGD:
//   g <- g + wd p;  buf <- momentum buf + (1 - dampening) g (buf = g at the first step);  p <- p - lr buf

import { persistentZeros, type Tensor } from "../tensor/tensor.js";
import { Optimizer, type ParamGroup, type ParamUpdate } from "./optimizer.js";

export interface SgdOptions {
  lr?: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  private readonly buffers = new Map<Tensor, Tensor>();

  constructor(params: Tensor[] | ParamGroup[], options: SgdOptions = {}) {
    super(params, options.lr ?? 1e-2);
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    this.nesterov = options.nesterov ?? false;
  }

  protected apply(updates: readonly ParamUpdate[]): void {
    for (const { param, grad, group } of updates) this.update(param, grad, group);
  }

  private update(param: Tensor, grad: Tensor, group: ParamGroup): void {
    const p = param.floats;
    const g = grad.floats;
    const wd = group.weightDecay ?? this.weightDecay;
    const lr = this.lr * (group.lrScale ?? 1);
    let buffer = this.buffers.get(param);
    const first = !buffer;
    if (!buffer && this.momentum !== 0) {
      buffer = persistentZeros(param.shape, param.dtype, param.backend);
      this.buffers.set(param, buffer);
    }
    const b = buffer?.floats;
    for (let i = 0; i < param.size; i++) {
      let d = g[i] + wd * p[i];
      if (b) {
        b[i] = first ? d : this.momentum * b[i] + (1 - this.dampening) * d;
        d = this.nesterov ? d + this.momentum * b[i] : b[i];
      }
      p[i] -= lr * d;
    }
  }
}
