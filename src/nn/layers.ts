// The basic layers, with Hugging Face parameter names (weight, bias) and layouts.

import { AdaptlmError } from "../errors.js";
import * as T from "../tensor/index.js";
import type { Tensor } from "../tensor/tensor.js";
import { afterInit, constantInit, normalInit } from "./init.js";
import { Module } from "./module.js";

export interface InitOptions {
  rng: T.Rng;
  /** Standard deviation of the normal initialisation (HF initializer_range, 0.02 by default). */
  std?: number;
}

/**
 * y = x W^T + b with W [out, in] (torch.nn.Linear), or y = x W + b with W [in, out] when layout is "inOut"
 * (GPT-2's Conv1D, whose checkpoints store the transposed layout).
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    init: InitOptions,
    options: { bias?: boolean; layout?: "outIn" | "inOut" } = {},
  ) {
    super();
    this.layout = options.layout ?? "outIn";
    const shape = this.layout === "outIn" ? [outFeatures, inFeatures] : [inFeatures, outFeatures];
    this.weight = this.registerParameter("weight", normalInit(shape, init.std ?? 0.02, init.rng));
    this.bias =
      options.bias === false ? null : this.registerParameter("bias", constantInit([outFeatures], 0));
  }

  readonly layout: "outIn" | "inOut";

  forward(x: Tensor): Tensor {
    return T.linear(x, this.weight, this.bias, this.layout);
  }
}

/** Rows of a [count, dim] table by int32 id; paddingIdx's row gets no gradient. */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(
    readonly count: number,
    readonly dim: number,
    init: InitOptions,
    readonly paddingIdx = -1,
  ) {
    super();
    this.weight = this.registerParameter("weight", normalInit([count, dim], init.std ?? 0.02, init.rng));
    if (paddingIdx >= 0)
      afterInit(this.weight, (data) => data.fill(0, paddingIdx * dim, (paddingIdx + 1) * dim));
  }

  forward(ids: Tensor): Tensor {
    return T.embedding(this.weight, ids, this.paddingIdx);
  }
}

export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.registerParameter("weight", constantInit([dim], 1));
    this.bias = this.registerParameter("bias", constantInit([dim], 0));
  }

  forward(x: Tensor): Tensor {
    return T.layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class RMSNorm extends Module {
  readonly weight: Tensor;

  constructor(
    readonly dim: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.weight = this.registerParameter("weight", constantInit([dim], 1));
  }

  forward(x: Tensor): Tensor {
    return T.rmsNorm(x, this.weight, this.eps);
  }
}

/** Inverted dropout driven by its own seeded generator; identity in eval mode. */
export class Dropout extends Module {
  constructor(
    readonly p: number,
    private readonly rng: T.Rng,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return T.dropout(x, this.p, this.rng, this.training);
  }
}

export type ActivationName = "gelu" | "gelu_new" | "gelu_pytorch_tanh" | "relu" | "silu" | "swish" | "tanh";

/** The activation function named as in Hugging Face configs (hidden_act / activation_function). */
export function activation(name: string): (x: Tensor) => Tensor {
  switch (name) {
    case "gelu":
      return T.gelu;
    case "gelu_new":
    case "gelu_pytorch_tanh":
    case "gelu_fast":
      return T.geluTanh;
    case "relu":
      return T.relu;
    case "silu":
    case "swish":
      return T.silu;
    case "tanh":
      return T.tanh;
    default:
      throw new AdaptlmError(
        "UNKNOWN_ACTIVATION",
        `unknown activation "${name}": expected gelu, gelu_new, relu, silu or tanh`,
      );
  }
}
