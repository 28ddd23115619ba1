// Module: a tree of named parameters and sub-modules whose dotted names are Hugging Face's state_dict keys
// (`bert.encoder.layer.0.attention.self.query.weight`), so checkpoints load by name unchanged.

import { AdaptlmError } from "../errors.js";
import { shapeString } from "../tensor/errors.js";
import { noGrad } from "../tensor/grad-mode.js";
import type { Tensor } from "../tensor/tensor.js";

export class StateDictError extends AdaptlmError {}

export abstract class Module {
  private readonly ownParameters = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();
  training = true;

  /** Registers a parameter under a local name (no dots). It is made persistent and trainable. */
  protected registerParameter(name: string, parameter: Tensor): Tensor {
    parameter.setRequiresGrad(true);
    this.ownParameters.set(name, parameter);
    return parameter;
  }

  /** Registers a child; its parameters appear as `<name>.<their name>`. */
  protected registerModule<M extends Module>(name: string, module: M): M {
    this.children.set(name, module);
    return module;
  }

  /**
   * Adds or replaces a child module. Parameter-efficient methods use this to wrap a layer (LoRA) or to
   * attach an adapter; the model's forward pass looks its optional children up with getModule.
   */
  setModule<M extends Module>(name: string, module: M): M {
    this.children.set(name, module);
    return module;
  }

  getModule(name: string): Module | undefined {
    return this.children.get(name);
  }

  /**
   * Runs the child registered under name on x. Models call their replaceable layers this way so that a
   * layer wrapped by a parameter-efficient method (LoRA) is the one that runs.
   */
  forwardChild(name: string, x: Tensor): Tensor {
    const child = this.children.get(name) as unknown as { forward?: (input: Tensor) => Tensor } | undefined;
    if (!child?.forward) throw new StateDictError("NO_SUCH_MODULE", `module has no callable child "${name}"`);
    return child.forward(x);
  }

  /** Removes a child module (detaching an adapter). */
  deleteModule(name: string): void {
    this.children.delete(name);
  }

  /** Replaces a registered parameter (e.g. when weights are tied). */
  protected replaceParameter(name: string, parameter: Tensor): void {
    if (!this.ownParameters.has(name))
      throw new StateDictError("NO_SUCH_PARAMETER", `no parameter ${name} to replace`);
    this.ownParameters.set(name, parameter);
  }

  /** Every (dotted name, parameter) pair, depth first in registration order. Tied parameters appear once. */
  namedParameters(prefix = ""): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const out: [string, Tensor][] = [];
    for (const [name, module] of this.namedModules(prefix)) {
      for (const [local, p] of module.ownParameters) {
        if (seen.has(p)) continue;
        seen.add(p);
        out.push([name ? `${name}.${local}` : local, p]);
      }
    }
    return out;
  }

  /** Every (dotted name, module) pair including this one (name prefix, "" by default). */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.children)
      out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** The parameters that currently require gradients. */
  trainableParameters(): [string, Tensor][] {
    return this.namedParameters().filter(([, p]) => p.requiresGrad);
  }

  parameterCount(options: { trainableOnly?: boolean } = {}): number {
    return this.namedParameters()
      .filter(([, p]) => !options.trainableOnly || p.requiresGrad)
      .reduce((total, [, p]) => total + p.size, 0);
  }

  /** Freezes (or unfreezes) every parameter whose dotted name passes the filter (all by default). */
  setRequiresGrad(value: boolean, filter: (name: string) => boolean = () => true): this {
    for (const [name, p] of this.namedParameters()) if (filter(name)) p.requiresGrad = value;
    return this;
  }

  /** Switches dropout and similar layers between training and evaluation behaviour. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** The parameter with this dotted name, or undefined. */
  parameter(name: string): Tensor | undefined {
    return this.namedParameters().find(([n]) => n === name)?.[1];
  }

  /**
   * Copies values into parameters by dotted name. Unknown names and missing parameters are reported; with
   * strict (the default) either is an error that lists them.
   */
  loadStateDict(
    values: ReadonlyMap<string, { shape: readonly number[]; data: ArrayLike<number> }>,
    options: { strict?: boolean } = {},
  ): { missing: string[]; unexpected: string[] } {
    const strict = options.strict ?? true;
    const own = new Map(this.namedParameters());
    const unexpected: string[] = [];
    noGrad(() => {
      for (const [name, value] of values) {
        const p = own.get(name);
        if (!p) {
          unexpected.push(name);
          continue;
        }
        const { data, shape } = value;
        if (data.length !== p.size || shape.length !== p.rank || shape.some((d, i) => d !== p.shape[i])) {
          throw new StateDictError(
            "STATE_SHAPE_MISMATCH",
            `parameter ${name} is ${shapeString(p.shape)} but the checkpoint has ${shapeString(shape)}: the checkpoint does not fit this model configuration`,
          );
        }
        p.data.set(data);
      }
    });
    const loaded = new Set(values.keys());
    const missing = [...own.keys()].filter((n) => !loaded.has(n));
    if (strict && (missing.length > 0 || unexpected.length > 0)) {
      throw new StateDictError(
        "STATE_KEYS_MISMATCH",
        `state dict does not match the model: missing ${missing.length} (${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", ..." : ""}), unexpected ${unexpected.length} (${unexpected.slice(0, 5).join(", ")}${unexpected.length > 5 ? ", ..." : ""})`,
      );
    }
    return { missing, unexpected };
  }
}
