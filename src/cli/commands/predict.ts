// `adaptlm predict <model> [--adapter DIR] [--input FILE|-] [--out FILE]`: labels and class probabilities
// from what `adaptlm train` saved, one JSON line per input record. Argument parsing and I/O only; the model
// work is src/train/predict.ts.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { writeFileAtomic } from "../../io/atomic-file.js";
import { type DataRecord, readRecordsAsync } from "../../train/dataset.js";
import { loadClassifier, predictRecords } from "../../train/predict.js";
import type { CliCommand } from "../command.js";
import { classifierSource, textFields } from "./eval.js";
import { CliUsageError, modelArgument, numberOption } from "./pull.js";

export const predictHelp = `adaptlm predict <base model folder> [--adapter DIR] [--input FILE|-] [--out FILE] [options]

Classifies texts with a sequence classifier trained by adaptlm train (the base model folder plus
--adapter <out>/adapter or <out>/model; see adaptlm eval --help). Writes one JSON line per input
record: the record's fields, then "label" (the predicted label) and "probabilities" (softmax over
the labels), e.g.
  {"text":"win money now","label":"spam","probabilities":{"ham":0.03,"spam":0.97}}

Input: --input FILE (.jsonl, .json, .csv, .tsv or .parquet records), or standard input (--input - or no
--input), where each line is a JSON object or plain text (taken as the text field).

Options:
  --adapter DIR           <out>/adapter or <out>/model of adaptlm train
  --input FILE|-          the records (default: standard input)
  --out FILE              write the JSON lines to FILE (atomically) instead of standard output
  --text-field NAME       field with the text (default text)
  --text-pair-field NAME  field with the second text of a pair
  --batch-size N          examples per forward pass (default 32)
  --max-length N          truncate inputs to N tokens (default 128, as adaptlm train)
  --seed N                the seed the classifier was trained with (default 42, as adaptlm train);
                          matters only when the base checkpoint has no pooler
`;

/** Standard-input lines: a JSON object each, or plain text put under the text field. */
export function parseInputLines(text: string, textField: string): DataRecord[] {
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "")
    .map((line) => {
      if (line.trimStart().startsWith("{")) {
        try {
          const parsed = JSON.parse(line) as unknown;
          if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as DataRecord;
        } catch {
          // Not JSON after all: a text that starts with a brace.
        }
      }
      return { [textField]: line };
    });
}

export async function runPredictCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      adapter: { type: "string" },
      input: { type: "string" },
      out: { type: "string" },
      "text-field": { type: "string" },
      "text-pair-field": { type: "string" },
      "batch-size": { type: "string" },
      "max-length": { type: "string" },
      seed: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  const model = modelArgument(positionals, "predict");
  const fields = textFields(values);
  const records =
    values.input === undefined || values.input === "-"
      ? parseInputLines(readFileSync(0, "utf8"), fields.textField ?? "text")
      : await readRecordsAsync(values.input);
  if (records.length === 0) throw new CliUsageError("predict: the input holds no records");
  const batchSize = numberOption(values, "batch-size", { integer: true, min: 1 });
  const classifier = loadClassifier(classifierSource(model, values));
  const predictions = predictRecords(classifier, records, {
    ...fields,
    ...(batchSize !== undefined ? { batchSize } : {}),
  });
  const lines = records.map((record, i) =>
    JSON.stringify({ ...record, label: predictions[i].label, probabilities: predictions[i].probabilities }),
  );
  const output = `${lines.join("\n")}\n`;
  if (values.out !== undefined) writeFileAtomic(values.out, output);
  else process.stdout.write(output);
}

export const command: CliCommand = {
  summary: "label texts with a trained classifier: JSON lines with label and probabilities",
  help: predictHelp,
  run: runPredictCommand,
};
