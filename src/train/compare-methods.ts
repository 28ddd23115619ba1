// The "store only the adapter per task" table: the same task trained with full fine-tuning and with each
// parameter-efficient method from the same starting model, reporting the task metrics, trainable
// parameters (and their share of the base), the size of what must be stored per task, and training time.

import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { TaskModel } from "../heads/task-model.js";
import { writeSafetensors } from "../io/safetensors.js";
import { AdapterBiasAdapter } from "../peft/adapter-bias.js";
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, saveAdapter } from "../peft/adapter-store.js";
import { BitFitAdapter } from "../peft/bitfit.js";
import { HoulsbyAdapter } from "../peft/houlsby.js";
import { LoraAdapter } from "../peft/lora.js";
import type { Adapter } from "../peft/method.js";
import { PrefixTuningAdapter } from "../peft/prefix.js";
import { PromptTuningAdapter } from "../peft/prompt-tuning.js";
import { Trainer, type TrainerOptions } from "./trainer.js";

export interface MethodSpec {
  name: string;
  /** The adapter to train, or null for full fine-tuning. */
  make: () => Adapter | null;
  /** Per-method overrides (e.g. a higher learning rate for prompt tuning). */
  trainer?: Partial<TrainerOptions>;
}

export interface MethodComparisonRow {
  method: string;
  trainableParameters: number;
  baseParameters: number;
  percentOfBase: number;
  /** Bytes of what is stored per task (adapter folder, or the whole model for full fine-tuning). */
  storedBytes: number;
  seconds: number;
  metrics: Record<string, number>;
}

/** The usual line-up: full, BitFit, Houlsby, AdapterBias, prefix, LoRA and prompt tuning. */
export function defaultMethodSpecs(
  options: { seed?: number; family?: string; virtualTokens?: number } = {},
): MethodSpec[] {
  const seed = options.seed ?? 0;
  const p = options.virtualTokens ?? 10;
  const bertOnly = options.family === undefined || options.family === "bert";
  const specs: MethodSpec[] = [
    { name: "full", make: () => null },
    { name: "bitfit", make: () => new BitFitAdapter(), trainer: { learningRate: 1e-3 } },
    { name: "lora", make: () => new LoraAdapter({ r: 8, alpha: 16, seed }), trainer: { learningRate: 1e-3 } },
    {
      name: "prefix",
      make: () => new PrefixTuningAdapter({ numVirtualTokens: p, seed }),
      trainer: { learningRate: 1e-2 },
    },
    {
      name: "prompt",
      make: () => new PromptTuningAdapter({ numVirtualTokens: p, init: { kind: "vocabulary" }, seed }),
      trainer: { learningRate: 3e-2 },
    },
  ];
  if (bertOnly) {
    specs.splice(2, 0, {
      name: "houlsby",
      make: () => new HoulsbyAdapter({ seed }),
      trainer: { learningRate: 1e-3 },
    });
    specs.splice(3, 0, {
      name: "adapter-bias",
      make: () => new AdapterBiasAdapter({ seed }),
      trainer: { learningRate: 1e-3 },
    });
  }
  return specs;
}

function fileBytes(...paths: string[]): number {
  return paths.reduce((total, p) => total + statSync(p).size, 0);
}

/**
 * Trains a fresh model (buildModel is called once per method, so each starts from the same weights) with
 * every method and returns one row each. Stored artefacts go to outputDir/<method>/.
 */
export function compareMethods(options: {
  buildModel: () => TaskModel;
  methods: readonly MethodSpec[];
  trainer: Omit<TrainerOptions, "model" | "adapter" | "outputDir">;
  outputDir: string;
  onRow?: (row: MethodComparisonRow) => void;
}): MethodComparisonRow[] {
  const rows: MethodComparisonRow[] = [];
  for (const spec of options.methods) {
    const model = options.buildModel();
    const baseParameters = model.parameterCount();
    const adapter = spec.make();
    const dir = join(options.outputDir, spec.name);
    const started = performance.now();
    const trainer = new Trainer({
      ...options.trainer,
      ...spec.trainer,
      model,
      adapter,
      outputDir: undefined,
    });
    const result = trainer.train();
    const seconds = (performance.now() - started) / 1000;
    const metrics = trainer.evaluate();
    let trainableParameters: number;
    let storedBytes: number;
    if (adapter) {
      trainableParameters = adapter.trainableCount();
      saveAdapter(adapter, dir);
      storedBytes = fileBytes(join(dir, ADAPTER_CONFIG_FILE), join(dir, ADAPTER_WEIGHTS_FILE));
    } else {
      trainableParameters = model.parameterCount({ trainableOnly: true });
      const tensors = new Map(
        model
          .namedParameters()
          .map(([n, p]) => [
            n,
            { shape: [...p.shape], data: Float32Array.from(p.floats.subarray(0, p.size)) },
          ]),
      );
      mkdirSync(dir, { recursive: true });
      writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
      storedBytes = fileBytes(join(dir, "model.safetensors"));
    }
    const row: MethodComparisonRow = {
      method: spec.name,
      trainableParameters,
      baseParameters,
      percentOfBase: (100 * trainableParameters) / baseParameters,
      storedBytes,
      seconds,
      metrics: { ...metrics, steps: result.steps },
    };
    rows.push(row);
    options.onRow?.(row);
  }
  return rows;
}
