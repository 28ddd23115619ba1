// `adaptlm train <model folder> --train FILE --method M --out DIR`: sequence classification (single sentences
// or pairs) with full fine-tuning or a parameter-efficient method. Argument parsing and rendering only; the
// run itself is src/train/train-run.ts.

import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { readRecordsAsync } from "../../train/dataset.js";
import { runTraining, TRAIN_METHODS, type TrainMethod, type TrainRunOptions } from "../../train/train-run.js";
import type { CliCommand } from "../command.js";
import { ProgressBar } from "../progress.js";
import { CliUsageError, modelArgument, numberOption } from "./pull.js";

export const trainHelp = `adaptlm train <model folder> --train FILE --method METHOD --out DIR [options]

Fine-tunes a BERT-style encoder for sequence classification (single sentences, or sentence
pairs with --text-pair-field) from a .jsonl, .json, .csv, .tsv or .parquet file. Labels are inferred
from the training file. Prints a progress bar with the loss, the metrics of each evaluation
(accuracy, macro-F1) and, at the end, the trainable parameters, their share of the base model
and where the result was saved: <out>/adapter (a PEFT folder: adapter_config.json +
adapter_model.safetensors) or, for --method full, <out>/model. Checkpoints go to
<out>/checkpoint, the best model to <out>/best, every evaluation to <out>/eval_log.jsonl.

Methods: ${TRAIN_METHODS.join(", ")}

Options:
  --train FILE            training data (required)
  --eval FILE             validation data (evaluated every --eval-every steps, else each epoch)
  --text-field NAME       field with the text (default text)
  --text-pair-field NAME  field with the second text of a pair (default: single sentences)
  --label-field NAME      field with the label (default label)
  --method M              the training method (required)
  --r N                   LoRA rank (default 8)
  --alpha A               LoRA alpha (default 16)
  --targets A,B           LoRA target modules (default query,value)
  --virtual-tokens N      prefix / prompt tuning virtual tokens (default 20)
  --epochs N              epochs (default 3; unlimited when only --max-steps is given)
  --max-steps N           stop after N optimizer steps
  --batch-size N          batch size (default 16)
  --lr X                  peak learning rate (default 5e-4)
  --seed N                seed for initialisation and shuffling (default 42)
  --max-length N          truncate inputs to N tokens (default 128)
  --eval-every N          evaluate and checkpoint every N steps
  --out DIR               output folder (required)
  --resume                continue from <out>/checkpoint
  --from-scratch          ignore the folder's weights: train the same architecture from random
                          initialisation (with --method full), the baseline for what pretraining buys
`;

export async function runTrainCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      train: { type: "string" },
      eval: { type: "string" },
      "text-field": { type: "string" },
      "text-pair-field": { type: "string" },
      "label-field": { type: "string" },
      method: { type: "string" },
      r: { type: "string" },
      alpha: { type: "string" },
      targets: { type: "string" },
      "virtual-tokens": { type: "string" },
      epochs: { type: "string" },
      "max-steps": { type: "string" },
      "batch-size": { type: "string" },
      lr: { type: "string" },
      seed: { type: "string" },
      "max-length": { type: "string" },
      "eval-every": { type: "string" },
      out: { type: "string" },
      resume: { type: "boolean" },
      "from-scratch": { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  const model = modelArgument(positionals, "train");
  if (values.train === undefined)
    throw new CliUsageError("train needs --train FILE (.jsonl, .json, .csv, .tsv or .parquet)");
  if (values.out === undefined) throw new CliUsageError("train needs --out DIR");
  if (values.method === undefined)
    throw new CliUsageError(`train needs --method (${TRAIN_METHODS.join(", ")})`);
  if (!(TRAIN_METHODS as readonly string[]).includes(values.method))
    throw new CliUsageError(`--method must be one of ${TRAIN_METHODS.join(", ")}, got "${values.method}"`);
  const options: TrainRunOptions = {
    model,
    train: values.train,
    method: values.method as TrainMethod,
    outputDir: values.out,
    resume: values.resume ?? false,
    ...(values["from-scratch"] ? { fromScratch: true } : {}),
  };
  if (values.eval !== undefined) options.eval = values.eval;
  if (values["text-field"] !== undefined) options.textField = values["text-field"];
  if (values["text-pair-field"] !== undefined) options.textPairField = values["text-pair-field"];
  if (values["label-field"] !== undefined) options.labelField = values["label-field"];
  const integer = (name: string) => numberOption(values, name, { integer: true, min: 1 });
  const r = integer("r");
  if (r !== undefined) options.r = r;
  const alpha = numberOption(values, "alpha", { min: Number.MIN_VALUE });
  if (alpha !== undefined) options.alpha = alpha;
  if (values.targets !== undefined) {
    const targets = values.targets
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean);
    if (targets.length === 0)
      throw new CliUsageError("--targets must name at least one module, e.g. query,value");
    options.targets = targets;
  }
  const virtualTokens = integer("virtual-tokens");
  if (virtualTokens !== undefined) options.virtualTokens = virtualTokens;
  const epochs = integer("epochs");
  if (epochs !== undefined) options.epochs = epochs;
  const maxSteps = integer("max-steps");
  if (maxSteps !== undefined) options.maxSteps = maxSteps;
  const batchSize = integer("batch-size");
  if (batchSize !== undefined) options.batchSize = batchSize;
  const lr = numberOption(values, "lr", { min: Number.MIN_VALUE });
  if (lr !== undefined) options.learningRate = lr;
  const seed = numberOption(values, "seed", { integer: true, min: 0 });
  if (seed !== undefined) options.seed = seed;
  const maxLength = integer("max-length");
  if (maxLength !== undefined) options.maxLength = maxLength;
  const evalEvery = integer("eval-every");
  if (evalEvery !== undefined) options.evalEvery = evalEvery;

  let bar: ProgressBar | null = null;
  options.onEvent = (event) => {
    switch (event.type) {
      case "step":
        bar ??= new ProgressBar(`train ${options.method}`, event.totalSteps);
        bar.update(event.step, `loss ${event.loss.toFixed(4)} lr ${event.learningRate.toExponential(2)}`);
        break;
      case "eval": {
        const m = event.metrics;
        const parts = [`eval step ${event.step}:`, `loss ${fmt(m.loss)}`];
        if (m.accuracy !== undefined) parts.push(`accuracy ${fmt(m.accuracy)}`);
        if (m.macro_f1 !== undefined) parts.push(`macro-F1 ${fmt(m.macro_f1)}`);
        if (event.improved) parts.push("(best)");
        console.log(parts.join(" "));
        break;
      }
      case "resumed":
        console.log(`resumed from step ${event.step} (epoch ${event.epoch})`);
        break;
      case "early-stop":
        console.log(`early stop at step ${event.step} (best step ${event.bestStep})`);
        break;
      default:
        break;
    }
  };
  // Parquet decodes asynchronously: read the files here (any format), train synchronously on the records.
  if (existsSync(options.train)) options.trainRecords = await readRecordsAsync(options.train);
  if (options.eval !== undefined && existsSync(options.eval))
    options.evalRecords = await readRecordsAsync(options.eval);
  const result = runTraining(options);
  (bar as ProgressBar | null)?.finish();
  const losses = result.stepLosses;
  if (losses.length > 0)
    console.log(`training loss: first step ${fmt(losses[0])}, last step ${fmt(losses[losses.length - 1])}`);
  console.log(`steps: ${result.steps}, labels: ${result.labels.join(", ")}`);
  console.log(
    `trainable parameters: ${result.trainableParameters} (${result.percentOfBase.toFixed(3)}% of ${result.baseParameters} base)`,
  );
  console.log(`${result.savedKind === "adapter" ? "adapter" : "model"} saved to ${result.savedTo}`);
}

function fmt(value: number | undefined): string {
  return value === undefined ? "n/a" : value.toFixed(4);
}

export const command: CliCommand = {
  summary: "fine-tune a sequence classifier (full or a PEFT method); saves the adapter",
  help: trainHelp,
  run: runTrainCommand,
};
