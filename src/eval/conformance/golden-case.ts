// A case of a golden folder laid out like ../shared/golden (see its README): case.json, inputs.json,
// expected.safetensors, optional adapter/, and the model folders they point to.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AdaptlmError } from "../../errors.js";
import { readSafetensors } from "../../io/safetensors.js";
import type { LoadedTensor } from "../../io/tensor-source.js";
import type { Tensor } from "../../tensor/index.js";
import * as T from "../../tensor/index.js";

export interface CaseSpec {
  name: string;
  family: "bert" | "gpt2" | "llama";
  task: string;
  method: string | null;
  model_dir: string;
  adapter_dir: string | null;
  num_labels?: number | null;
  method_config?: Record<string, unknown>;
  head_params?: string[];
  method_params?: string[];
  trainable?: { name: string; shape: number[]; weight_decay: number }[];
  peft_tensor_names?: Record<string, string>;
  optimizer?: { lr: number; betas: [number, number]; eps: number };
  tolerances: {
    outputs_atol: number;
    loss_atol: number;
    grad_rtol: number;
    grad_atol: number;
    step1_atol: number;
    fragile_grad_threshold: number;
    fragile_step1_atol: number;
    merged_atol: number;
  };
  [key: string]: unknown;
}

export interface GoldenCase {
  name: string;
  /** The golden folder (parent of cases/ and models/). */
  root: string;
  dir: string;
  spec: CaseSpec;
  inputs: Record<string, unknown>;
  expected: Map<string, LoadedTensor>;
}

export function readGoldenCase(root: string, name: string): GoldenCase {
  const dir = join(root, "cases", name);
  const read = (file: string) => {
    const path = join(dir, file);
    if (!existsSync(path))
      throw new AdaptlmError("GOLDEN_CASE_INCOMPLETE", `golden case ${name} lacks ${file} (${path})`);
    return readFileSync(path, "utf8");
  };
  return {
    name,
    root,
    dir,
    spec: JSON.parse(read("case.json")) as CaseSpec,
    inputs: JSON.parse(read("inputs.json")) as Record<string, unknown>,
    expected: readSafetensors(join(dir, "expected.safetensors")).tensors,
  };
}

/** The expected tensor, or a typed error naming the case. */
export function expectedTensor(c: GoldenCase, name: string): LoadedTensor {
  const t = c.expected.get(name);
  if (!t) throw new AdaptlmError("GOLDEN_CASE_INCOMPLETE", `expected.safetensors of ${c.name} lacks ${name}`);
  return t;
}

/** An inputs.json integer matrix as an int32 tensor [rows, cols]. */
export function inputMatrix(c: GoldenCase, key: string): Tensor {
  const rows = c.inputs[key] as number[][] | undefined;
  if (!rows) throw new AdaptlmError("GOLDEN_CASE_INCOMPLETE", `inputs.json of ${c.name} lacks ${key}`);
  return T.tensor(rows.flat(), [rows.length, rows[0].length], "int32");
}

/** An inputs.json integer vector as an int32 tensor [n]. */
export function inputVector(c: GoldenCase, key: string): Tensor {
  const values = c.inputs[key] as number[] | undefined;
  if (!values) throw new AdaptlmError("GOLDEN_CASE_INCOMPLETE", `inputs.json of ${c.name} lacks ${key}`);
  return T.tensor(values, [values.length], "int32");
}
