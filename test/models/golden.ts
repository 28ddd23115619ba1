// Reading the golden fixtures of ../shared/golden: configs, models, inputs, expected tensors, and the
// tolerance checks of its README.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readHfConfig } from "../../src/io/hf-config.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { openCheckpoint } from "../../src/io/safetensors-index.js";
import type { LoadedTensor } from "../../src/io/tensor-source.js";
import { BertModel } from "../../src/models/bert.js";
import { GPT2LMHeadModel } from "../../src/models/gpt2.js";
import { LlamaForCausalLM } from "../../src/models/llama.js";
import { loadWeights } from "../../src/models/load-weights.js";
import type { Tensor } from "../../src/tensor/index.js";
import * as T from "../../src/tensor/index.js";
import { sharedPath } from "../io/shared-paths.js";

export const goldenDir = sharedPath("golden");

export interface GoldenCase {
  name: string;
  spec: Record<string, unknown> & { model_dir: string; trainable?: { name: string; weight_decay: number }[] };
  inputs: Record<string, unknown>;
  expected: Map<string, LoadedTensor>;
}

export function readCase(name: string): GoldenCase {
  const dir = `${goldenDir}/cases/${name}`;
  return {
    name,
    spec: JSON.parse(readFileSync(`${dir}/case.json`, "utf8")),
    inputs: JSON.parse(readFileSync(`${dir}/inputs.json`, "utf8")),
    expected: readSafetensors(`${dir}/expected.safetensors`).tensors,
  };
}

/** A [rows][cols] JSON integer matrix as an int32 tensor. */
export function intMatrix(rows: number[][]): Tensor {
  return T.tensor(rows.flat(), [rows.length, rows[0].length], "int32");
}

export function loadGoldenModel(modelDir: string): BertModel | GPT2LMHeadModel | LlamaForCausalLM {
  const dir = `${goldenDir}/${modelDir}`;
  const config = readHfConfig(`${dir}/config.json`);
  const model =
    config.family === "bert"
      ? new BertModel(config)
      : config.family === "gpt2"
        ? new GPT2LMHeadModel(config)
        : new LlamaForCausalLM(config);
  const source = openCheckpoint(dir);
  try {
    loadWeights(model, source, { prefix: config.baseModelPrefix });
  } finally {
    source.close();
  }
  return model;
}

/** max |a - b| <= atol over all elements. */
export function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol: number,
  what: string,
): void {
  assert.equal(
    actual.length,
    expected.length,
    `${what}: ${actual.length} elements, expected ${expected.length}`,
  );
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    if (!(error <= worst)) {
      worst = error;
      at = i;
    }
  }
  assert.ok(
    worst <= atol,
    `${what}: max error ${worst} at ${at} (${actual[at]} vs ${expected[at]}) exceeds ${atol}`,
  );
}

/** The README's gradient rule: max error <= 1e-4 * max|ref| + 1e-6. */
export function assertGradClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  assertAllClose(actual, expected, 1e-4 * scale + 1e-6, what);
}
