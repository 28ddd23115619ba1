// `adaptlm compare --task FILE|DIR [--encoder DIR --methods ...] [--lm MODEL | --endpoint URL --model NAME
// --strategies ...]`: fine-tuning methods and prompting strategies on the same test examples, one table.
// Argument parsing and rendering only; the comparison itself is src/eval/compare.ts.

import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  COMPARE_STRATEGIES,
  type CompareEvent,
  type CompareOptions,
  type CompareReport,
  type CompareRow,
  DEFAULT_INSTRUCTION,
  DEFAULT_METHODS,
  DEFAULT_STRATEGIES,
  runComparison,
} from "../../eval/compare.js";
import { localEngineFactory } from "../../lm/local-engine.js";
import { SERVER_CAPABILITIES, type ServerKind } from "../../lm/openai-compatible.js";
import { buildLanguageModelStack, type LanguageModelStack } from "../../lm/stack.js";
import { TRAIN_METHODS } from "../../train/train-run.js";
import type { CliCommand } from "../command.js";
import { ProgressBar } from "../progress.js";
import { CliUsageError, numberOption } from "./pull.js";

export const compareHelp = `adaptlm compare --task FILE|DIR [--encoder DIR] [--lm MODEL | --endpoint URL --model NAME] [options]

Measures fine-tuning methods (on a BERT-style encoder) against prompting strategies (on a
language model) on the same held-out test examples of one classification task, and prints one
table: accuracy with a 95% bootstrap interval, trainable parameters, bytes stored per task,
training time, tokens and time per test example, and money when prices are given. The task is a
folder with train, [validation] and test files (.jsonl, .json, .csv, .tsv), or one file split
into train and test with --seed. Demonstrations come from the train split only.

Everything goes to RUNDIR: compare.json (the table and setup, rewritten after every row),
data/ (the splits), train/<method>/ (checkpoints, the adapter, test predictions) and
prompt/<strategy>/ (results stores with every prompt and answer). --resume continues an
interrupted comparison: finished rows are kept, prompting rows resume per example.

Methods:    ${TRAIN_METHODS.join(", ")} (default with --encoder: ${DEFAULT_METHODS.join(",")})
Strategies: ${COMPARE_STRATEGIES.join(", ")}
            (default with an LM: ${DEFAULT_STRATEGIES.join(",")}); few-shot, cot, self-consistency and
            least-to-most take ":k" demonstrations, e.g. few-shot:8 (default 4)
A strategy that does not fit the task (least-to-most without decompositions, cot without
rationales, more demonstrations than train examples) becomes a skipped row with the reason.

Options:
  --task FILE|DIR         the task (required)
  --text-field NAME       field with the input text (default text)
  --label-field NAME      field with the label (default label)
  --test-fraction X       held-out share of a single task file (default 0.2)
  --encoder DIR           BERT-style model folder for the method rows
  --methods A,B           methods to train (default ${DEFAULT_METHODS.join(",")})
  --lm MODEL              local causal LM for the strategy rows (folder, llama2.c .bin, hub id)
  --tokenizer PATH        tokenizer for a llama2.c .bin
  --endpoint URL          OpenAI-compatible server instead of --lm (with --model); repeat it for
                          several servers of the same model: requests are load-balanced over them
  --model NAME            model name served at --endpoint
  --server KIND           server preset: ${Object.keys(SERVER_CAPABILITIES).join("|")} (default generic)
  --cache FILE            SQLite response cache for LM answers (cached answers are free: they
                          count no tokens and no money)
  --strategies A,B        strategies to run (default ${DEFAULT_STRATEGIES.join(",")})
  --instruction TEXT      instruction of the "instructions" strategy (default "${DEFAULT_INSTRUCTION}")
  --samples N             self-consistency paths (default 5)
  --seed N                seed for the split, training, demonstrations and intervals (default 0)
  --max-steps N           optimizer steps per method (default: --epochs epochs)
  --epochs N              epochs per method (default 3)
  --batch-size N          batch size (default 16)
  --lr X                  one learning rate for every method (default: per method)
  --max-length N          truncate encoder inputs to N tokens (default 128)
  --price-in X            $ per million prompt tokens of the LM
  --price-out X           $ per million completion tokens of the LM
  --out RUNDIR            output folder (default runs/compare-<task name>)
  --resume                continue the comparison in RUNDIR
  --json                  print the report as JSON instead of the table
`;

function list(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0)
    throw new CliUsageError("a list option needs at least one name, e.g. --methods full,lora");
  return items;
}

function percent(value: number): string {
  return `${(100 * value).toFixed(1)}%`;
}

function bytesText(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(2)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${Math.round(bytes)} B`;
}

function count(value: number): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)}B`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return String(value);
}

function orDash<T>(value: T | null | undefined, format: (v: T) => string): string {
  return value === null || value === undefined ? "-" : format(value);
}

/** The report as an aligned plain-text table, one line per row. */
export function formatCompareTable(report: CompareReport): string {
  const priced = report.setup.lm?.prices != null;
  const header = [
    "row",
    "kind",
    "accuracy",
    "95% CI",
    "n",
    "trainable",
    "stored",
    "train s",
    "tok/ex",
    "ms/ex",
  ];
  if (priced) header.push("$ total");
  header.push("note");
  const lines = report.rows.map((row: CompareRow) => {
    const m = row.metric;
    const cells = [
      row.name,
      row.kind,
      orDash(m, (v) => percent(v.value)),
      orDash(m, (v) => `[${percent(v.low)}, ${percent(v.high)}]`),
      orDash(m, (v) => `${v.correct}/${v.total}`),
      orDash(row.trainableParameters, count),
      orDash(row.storedBytes, bytesText),
      orDash(row.trainingSeconds, (v) => v.toFixed(1)),
      orDash(row.tokensPerExample, (v) => v.toFixed(1)),
      orDash(row.inferenceSecondsPerExample, (v) => (1000 * v).toFixed(1)),
    ];
    if (priced) cells.push(orDash(row.cost, (v) => v.toFixed(4)));
    cells.push(row.status === "skipped" ? `skipped: ${row.skipReason ?? ""}` : "");
    return cells;
  });
  const all = [header, ...lines];
  const widths = header.map((_, c) => Math.max(...all.map((cells) => (cells[c] ?? "").length)));
  const numeric = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10].filter((c) => c < header.length - 1));
  const render = (cells: string[]) =>
    cells
      .map((cell, c) =>
        c === cells.length - 1 ? cell : numeric.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]),
      )
      .join("  ")
      .trimEnd();
  return [render(header), render(widths.map((w) => "-".repeat(w))), ...lines.map(render)].join("\n");
}

/** Progress on stderr: a line when a row starts or ends, a bar while it trains or answers. */
export function compareProgressRenderer(): (event: CompareEvent) => void {
  let bar: ProgressBar | null = null;
  const summary = (row: CompareRow) =>
    row.metric
      ? `accuracy ${percent(row.metric.value)} [${percent(row.metric.low)}, ${percent(row.metric.high)}] (${row.metric.correct}/${row.metric.total})`
      : `skipped: ${row.skipReason ?? ""}`;
  return (event) => {
    switch (event.type) {
      case "setup":
        console.error(
          `compare: ${event.setup.trainExamples} train, ${event.setup.validationExamples} validation, ${event.setup.testExamples} test examples; ${event.rows} row(s) -> ${event.file}`,
        );
        break;
      case "row-start":
        bar = null;
        console.error(`[${event.index + 1}/${event.total}] ${event.kind} ${event.name} ...`);
        break;
      case "train-progress":
        if (event.event.type === "step") {
          bar ??= new ProgressBar(`  train ${event.name}`, event.event.totalSteps);
          bar.update(event.event.step, `loss ${event.event.loss.toFixed(4)}`);
        }
        break;
      case "prompt-progress":
        bar ??= new ProgressBar(`  prompt ${event.name}`, event.total);
        bar.update(
          event.done,
          `correct ${event.correct}${event.resumed ? `, resumed ${event.resumed}` : ""}`,
        );
        break;
      case "row-reused":
        console.error(
          `[${event.index + 1}/${event.total}] ${event.row.kind} ${event.row.name}: finished before, kept: ${summary(event.row)}`,
        );
        break;
      case "row-done":
      case "row-skipped":
        bar?.finish();
        bar = null;
        console.error(
          `[${event.index + 1}/${event.total}] ${event.row.kind} ${event.row.name}: ${summary(event.row)}`,
        );
        break;
    }
  };
}

export async function runCompareCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      task: { type: "string" },
      "text-field": { type: "string" },
      "label-field": { type: "string" },
      "test-fraction": { type: "string" },
      encoder: { type: "string" },
      methods: { type: "string" },
      lm: { type: "string" },
      tokenizer: { type: "string" },
      endpoint: { type: "string", multiple: true },
      model: { type: "string" },
      server: { type: "string" },
      cache: { type: "string" },
      strategies: { type: "string" },
      instruction: { type: "string" },
      samples: { type: "string" },
      seed: { type: "string" },
      "max-steps": { type: "string" },
      epochs: { type: "string" },
      "batch-size": { type: "string" },
      lr: { type: "string" },
      "max-length": { type: "string" },
      "price-in": { type: "string" },
      "price-out": { type: "string" },
      out: { type: "string" },
      resume: { type: "boolean" },
      json: { type: "boolean" },
    },
    allowPositionals: false,
    strict: true,
  });
  if (positionals.length > 0)
    throw new CliUsageError("compare takes no positional arguments: see adaptlm compare --help");
  if (values.task === undefined) throw new CliUsageError("compare needs --task FILE|DIR");
  if (values.lm !== undefined && values.endpoint !== undefined)
    throw new CliUsageError("give either --lm (a local model) or --endpoint (a server), not both");
  if (values.endpoint !== undefined && values.model === undefined)
    throw new CliUsageError("--endpoint needs --model NAME (the model the server serves)");
  if (!values.encoder && !values.lm && !values.endpoint)
    throw new CliUsageError(
      "compare needs --encoder <BERT-style folder> (fine-tuning rows) and/or --lm <model> or --endpoint URL --model NAME (prompting rows)",
    );
  const methods = list(values.methods) ?? (values.encoder ? [...DEFAULT_METHODS] : []);
  if (values.methods !== undefined && !values.encoder)
    throw new CliUsageError(`--methods needs --encoder <BERT-style model folder>`);
  const hasLm = values.lm !== undefined || values.endpoint !== undefined;
  const strategies = list(values.strategies) ?? (hasLm ? [...DEFAULT_STRATEGIES] : []);
  if (values.strategies !== undefined && !hasLm)
    throw new CliUsageError("--strategies needs --lm <model> or --endpoint URL --model NAME");
  const priceIn = numberOption(values, "price-in", { min: 0 });
  const priceOut = numberOption(values, "price-out", { min: 0 });
  if ((priceIn === undefined) !== (priceOut === undefined))
    throw new CliUsageError(
      "give both --price-in and --price-out ($ per million prompt / completion tokens)",
    );
  const server =
    values.server === undefined
      ? undefined
      : (Object.keys(SERVER_CAPABILITIES) as ServerKind[]).find((kind) => kind === values.server);
  if (values.server !== undefined && !server)
    throw new CliUsageError(
      `--server must be one of ${Object.keys(SERVER_CAPABILITIES).join(", ")}, got "${values.server}"`,
    );

  const out =
    values.out ??
    `runs/compare-${basename(values.task)
      .replace(/\.[^.]+$/, "")
      .replace(/[^\w.-]+/g, "_")}`;
  const options: CompareOptions = {
    task: values.task,
    methods,
    strategies,
    outputDir: out,
    resume: values.resume ?? false,
    onEvent: compareProgressRenderer(),
  };
  if (values["text-field"] !== undefined) options.textField = values["text-field"];
  if (values["label-field"] !== undefined) options.labelField = values["label-field"];
  if (values.encoder !== undefined) options.encoder = values.encoder;
  if (values.instruction !== undefined) options.instruction = values.instruction;
  const fraction = numberOption(values, "test-fraction", { min: Number.MIN_VALUE, max: 0.99 });
  if (fraction !== undefined) options.testFraction = fraction;
  const integer = (name: string) => numberOption(values, name, { integer: true, min: 1 });
  const samples = integer("samples");
  if (samples !== undefined) options.samples = samples;
  const seed = numberOption(values, "seed", { integer: true, min: 0 });
  if (seed !== undefined) options.seed = seed;
  const maxSteps = integer("max-steps");
  if (maxSteps !== undefined) options.maxSteps = maxSteps;
  const epochs = integer("epochs");
  if (epochs !== undefined) options.epochs = epochs;
  const batchSize = integer("batch-size");
  if (batchSize !== undefined) options.batchSize = batchSize;
  const maxLength = integer("max-length");
  if (maxLength !== undefined) options.maxLength = maxLength;
  const lr = numberOption(values, "lr", { min: Number.MIN_VALUE });
  if (lr !== undefined) options.learningRate = lr;
  if (priceIn !== undefined && priceOut !== undefined)
    options.price = { inputPerMillion: priceIn, outputPerMillion: priceOut };

  let stack: LanguageModelStack | null = null;
  if (hasLm) {
    const [target, ...extraBaseUrls] = values.endpoint ?? [values.lm as string];
    stack = buildLanguageModelStack({
      target: target as string,
      ...(extraBaseUrls.length > 0 ? { extraBaseUrls } : {}),
      ...(values.model ? { model: values.model } : {}),
      ...(server ? { http: { server } } : {}),
      ...(values.cache ? { cachePath: values.cache } : {}),
      // An absolute name, so resuming from another directory finds the same setup.
      localFactory: localEngineFactory({
        ...(values.tokenizer ? { tokenizer: values.tokenizer } : {}),
        name: values.lm !== undefined && existsSync(values.lm) ? resolve(values.lm) : (target as string),
      }),
    });
    options.lm = stack.lm;
    if (values.endpoint) options.endpoint = values.endpoint.join(",");
  }
  try {
    const report = await runComparison(options);
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else {
      console.log(formatCompareTable(report));
      console.log(`\nresults: ${resolve(out, "compare.json")}`);
    }
  } finally {
    stack?.close();
  }
}

export const command: CliCommand = {
  summary: "fine-tuning methods vs prompting strategies on the same test examples, one table",
  help: compareHelp,
  run: runCompareCommand,
};
