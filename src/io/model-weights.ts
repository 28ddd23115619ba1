// One entry point from "a model on disk" to (normalised config, weights by HF name), whatever the format:
//   <folder>            config.json + model.safetensors or a sharded model.safetensors.index.json
//   <file>.bin          a llama2.c checkpoint (legacy or v1), weights renamed to HF Llama names
// The model layer builds its modules from `config` and pulls tensors from `weights` one at a time.

import { statSync } from "node:fs";
import { AdaptlmError } from "../errors.js";
import { type ModelConfig, readHfConfig } from "./hf-config.js";
import { openLlama2c } from "./llama2c.js";
import { type CheckpointOptions, openCheckpoint } from "./safetensors-index.js";
import type { TensorSource } from "./tensor-source.js";

export interface ModelWeights {
  config: ModelConfig;
  /** Weights under Hugging Face state_dict names; call `close()` when the model is built. */
  weights: TensorSource;
  format: "safetensors" | "llama2c";
}

/** Error for a path that is neither a model folder nor a llama2.c checkpoint. Code: MODEL_PATH_UNRECOGNISED. */
export class ModelPathError extends AdaptlmError {}

/**
 * Opens a model folder (HF layout) or a llama2.c `.bin` checkpoint. Throws ModelPathError
 * (MODEL_PATH_UNRECOGNISED: missing path, or a file that is not a .bin), ConfigError from config.json,
 * SafetensorsError / Llama2cError from the weights. `options.headers`: weight files known by their header
 * alone (see CheckpointOptions).
 */
export function openModelWeights(path: string, options: CheckpointOptions = {}): ModelWeights {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (error) {
    throw new ModelPathError(
      "MODEL_PATH_UNRECOGNISED",
      `model path ${path} does not exist: give a model folder (config.json + safetensors) or a llama2.c .bin file`,
      { cause: error },
    );
  }
  if (isDirectory) {
    const config = readHfConfig(path);
    return { config, weights: openCheckpoint(path, options), format: "safetensors" };
  }
  if (path.endsWith(".bin")) {
    const checkpoint = openLlama2c(path);
    return { config: checkpoint.config, weights: checkpoint, format: "llama2c" };
  }
  throw new ModelPathError(
    "MODEL_PATH_UNRECOGNISED",
    `${path} is a file but not a llama2.c .bin checkpoint; for Hugging Face models pass the folder that holds config.json`,
  );
}
