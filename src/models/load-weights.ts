// Copies checkpoint tensors into a model's parameters by Hugging Face name, tolerating the naming variants
// real checkpoints have: with or without the base-model prefix ("bert.", "transformer.", "model."), and the
// old LayerNorm names gamma/beta.

import { AdaptlmError } from "../errors.js";
import type { TensorSource } from "../io/tensor-source.js";
import type { Module } from "../nn/module.js";
import { shapeString } from "../tensor/errors.js";
import { noGrad } from "../tensor/grad-mode.js";

export class WeightLoadError extends AdaptlmError {}

export interface LoadWeightsOptions {
  /** The backbone's prefix in task-model checkpoints ("bert", "transformer", "model"). */
  prefix: string;
  /** Parameters allowed to be absent from the checkpoint (e.g. a freshly initialised task head). */
  optional?: (name: string) => boolean;
  /** Extra candidate names to try for a parameter (e.g. a tied decoder). */
  aliases?: (name: string) => string[];
}

export interface LoadWeightsReport {
  loaded: string[];
  /** Optional parameters not found (left at their initial values). */
  initialised: string[];
  /** Checkpoint tensors no parameter used. */
  unused: string[];
}

function candidates(name: string, prefix: string): string[] {
  const base = [name];
  if (prefix && name.startsWith(`${prefix}.`)) base.push(name.slice(prefix.length + 1));
  else if (prefix) base.push(`${prefix}.${name}`);
  const out = [...base];
  for (const n of base) {
    if (n.endsWith("LayerNorm.weight")) out.push(n.replace(/weight$/, "gamma"));
    if (n.endsWith("LayerNorm.bias")) out.push(n.replace(/bias$/, "beta"));
  }
  return out;
}

/** Loads every parameter of model from source; throws a typed error listing what is missing or misshapen. */
export function loadWeights(
  model: Module,
  source: TensorSource,
  options: LoadWeightsOptions,
): LoadWeightsReport {
  const report: LoadWeightsReport = { loaded: [], initialised: [], unused: [] };
  const used = new Set<string>();
  const missing: string[] = [];
  noGrad(() => {
    for (const [name, param] of model.namedParameters()) {
      const names = [...candidates(name, options.prefix), ...(options.aliases?.(name) ?? [])];
      const found = names.find((n) => source.has(n));
      if (!found) {
        if (options.optional?.(name)) report.initialised.push(name);
        else missing.push(name);
        continue;
      }
      const info = source.info(found);
      if (info.shape.length !== param.rank || info.shape.some((d, i) => d !== param.shape[i])) {
        throw new WeightLoadError(
          "WEIGHT_SHAPE_MISMATCH",
          `checkpoint tensor ${found} is ${shapeString(info.shape)} but parameter ${name} is ${shapeString(param.shape)}: config.json does not describe this checkpoint`,
        );
      }
      if (param.data instanceof Float32Array) source.readFloat32Into(found, param.data);
      else param.data.set(source.readFloat32(found));
      used.add(found);
      report.loaded.push(name);
    }
  });
  if (missing.length > 0) {
    throw new WeightLoadError(
      "WEIGHTS_MISSING",
      `checkpoint lacks ${missing.length} parameter(s) the model needs: ${missing.slice(0, 6).join(", ")}${missing.length > 6 ? ", ..." : ""}; is it a checkpoint of this architecture?`,
    );
  }
  report.unused = source.names().filter((n) => !used.has(n));
  return report;
}
