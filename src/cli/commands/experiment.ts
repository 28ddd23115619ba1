// `adaptlm experiment <name> [--model PATH ...| --endpoint URL --model NAME] [--out DIR] [--quick] [--seeds N]
// [--examples N]` and `adaptlm experiment list`: runs one of the lecture's experiments (src/eval/experiments)
// and prints its setup, then its tables; progress goes to stderr.

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { labModelPath } from "../../eval/demo.js";
import type { ExperimentEvent } from "../../eval/experiments/experiment.js";
import { EXPERIMENTS, findExperiment } from "../../eval/experiments/registry.js";
import { formatSetup, runExperiment } from "../../eval/experiments/runner.js";
import { formatTextTable } from "../../eval/experiments/summary.js";
import type { LanguageModel } from "../../lm/language-model.js";
import { localEngineFactory } from "../../lm/local-engine.js";
import { buildLanguageModelStack, type LanguageModelStack } from "../../lm/stack.js";
import type { CliCommand } from "../command.js";
import { CliUsageError, numberOption } from "./pull.js";

export const experimentHelp = `adaptlm experiment <name> [options]
adaptlm experiment list

Runs one of the lecture's findings as an experiment: a table (accuracy with a 95% bootstrap interval, pooled
over seeds) and a plot. Writes <out>/<name>/result.json (resumable: finished cells are skipped on a re-run,
unfinished prompt runs resume per example), cells/<cell>/ (one results store per cell) and plot.svg.

Options:
  --model PATH            local model folder (repeat for experiments over model sizes; default: models/lab-decoder-s,
                          models/lab-encoder for adapters);
                          with --endpoint, the model name the server serves
  --endpoint URL          OpenAI-compatible server instead of a local model
  --out DIR               parent folder of the experiment's folder (default ./experiments)
  --quick                 a small grid and few examples (about a minute on the lab models)
  --seeds N               demonstration draws / sampling seeds (default: the experiment's)
  --examples N            evaluated examples per cell (default: the experiment's)
`;

export interface ExperimentCommandIo {
  /** Builds the model for a name (tests give scripted models); default: the local engine or the server. */
  languageModel?: (model: string) => LanguageModel;
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
}

const where = (index: number, total: number): string => `[${index + 1}/${total}] `;

function progress(stderr: (text: string) => void): (event: ExperimentEvent) => void {
  let lastPercent = -1;
  return (event) => {
    switch (event.type) {
      case "cell-skip":
        stderr(`${where(event.index, event.total)}${event.cell.key}: finished earlier, skipped\n`);
        break;
      case "cell-start":
        lastPercent = -1;
        stderr(`${where(event.index, event.total)}${event.cell.key}\n`);
        break;
      case "example": {
        const percent = Math.floor((100 * event.done) / event.total);
        if (percent >= lastPercent + 25 || event.done === event.total) {
          lastPercent = percent;
          stderr(`  ${event.done}/${event.total} examples, ${event.correct} correct\n`);
        }
        break;
      }
      case "cell-done":
        stderr(
          `${where(event.index, event.total)}${event.cell.key}: accuracy ${(100 * event.accuracy).toFixed(1)}%\n`,
        );
        break;
      case "written":
        stderr(`wrote ${event.path}\n`);
        break;
    }
  };
}

export async function runExperimentCommand(argv: string[], io: ExperimentCommandIo = {}): Promise<void> {
  const stdout = io.stdout ?? ((text: string) => process.stdout.write(text));
  const stderr = io.stderr ?? ((text: string) => process.stderr.write(text));
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      model: { type: "string", multiple: true },
      endpoint: { type: "string" },
      out: { type: "string" },
      quick: { type: "boolean" },
      seeds: { type: "string" },
      examples: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1)
    throw new CliUsageError("experiment takes one <name> (or list): see adaptlm experiment --help");
  const name = positionals[0] as string;
  if (name === "list") {
    const width = Math.max(...EXPERIMENTS.map((e) => e.name.length));
    for (const experiment of EXPERIMENTS)
      stdout(
        `${experiment.name.padEnd(width)}  ${experiment.title}\n${" ".repeat(width)}  ${experiment.finding}\n`,
      );
    return;
  }
  const experiment = findExperiment(name);
  if (values.endpoint !== undefined && (values.model ?? []).length === 0)
    throw new CliUsageError("--endpoint needs --model NAME (the model the server serves)");
  const models =
    values.model && values.model.length > 0
      ? values.model.map((model) =>
          values.endpoint === undefined && existsSync(model) ? resolve(model) : model,
        )
      : [resolve(labModelPath(experiment.defaultModel ?? "lab-decoder-s"))];
  const seeds = numberOption(values, "seeds", { integer: true, min: 1 });
  const examples = numberOption(values, "examples", { integer: true, min: 1 });

  const stacks = new Map<string, LanguageModelStack>();
  const languageModel =
    io.languageModel ??
    ((model: string): LanguageModel => {
      let stack = stacks.get(model);
      if (!stack) {
        stack = buildLanguageModelStack({
          target: values.endpoint ?? model,
          ...(values.endpoint !== undefined ? { model } : {}),
          localFactory: localEngineFactory({ name: model }),
        });
        stacks.set(model, stack);
      }
      return stack.lm;
    });
  try {
    const run = await runExperiment(experiment, {
      out: values.out ?? "experiments",
      models,
      ...(values.endpoint !== undefined ? { endpoint: values.endpoint } : {}),
      quick: values.quick ?? false,
      ...(seeds !== undefined ? { seeds } : {}),
      ...(examples !== undefined ? { examples } : {}),
      languageModel,
      onEvent: progress(stderr),
    });
    const { result } = run;
    stdout(`${formatSetup(result)}\n\n`);
    for (const table of result.tables) stdout(`${formatTextTable(table)}\n\n`);
    if (!result.complete) stdout(`(${result.cells.length}/${result.plannedCells} cells finished)\n`);
    stdout(`results: ${resolve(run.dir, "result.json")}\nplot: ${run.plotPath}\n`);
  } finally {
    for (const stack of stacks.values()) stack.close();
  }
}

export const command: CliCommand = {
  summary: "run one of the lecture's findings (demo labels, flipped labels, CoT, ...) as a table and a plot",
  help: experimentHelp,
  run: (argv) => runExperimentCommand(argv),
};
