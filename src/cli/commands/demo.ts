// `adaptlm demo`: the README's main job (src/eval/demo.ts): fine-tune the lab encoder with a few methods and
// prompt the lab decoder with a few strategies on one bundled task, print the comparison table and write
// report.html. `--engine` keeps the original engine demo (a tiny transformer trained from scratch).

import { parseArgs } from "node:util";
import { DEMO_SETTINGS, type DemoEvent, runDemo } from "../../eval/demo.js";
import { defaultEngineDemoOptions, runEngineDemo } from "../../eval/engine-demo.js";
import { asciiChart } from "../chart.js";
import type { CliCommand } from "../command.js";
import { ProgressBar } from "../progress.js";
import { compareProgressRenderer, formatCompareTable } from "./compare.js";

export const demoHelp = `adaptlm demo [--out DIR] [--quick] [--seed N] [--resume] [--json]
adaptlm demo --engine [--steps N] [--seed N] [--json]

Specialist vs generalist on adaptlm's own lab models, offline. On one bundled task (short review
sentences, positive or negative) it:
  1. fine-tunes the lab encoder (models/lab-encoder, a small BERT pretrained by adaptlm) with
     ${DEMO_SETTINGS.full.methods.join(", ")} (${DEMO_SETTINGS.full.maxSteps} steps each, ${DEMO_SETTINGS.full.trainExamples} training examples);
  2. prompts the lab decoder (models/lab-decoder-s, a small Llama pretrained by adaptlm) with
     ${DEMO_SETTINGS.strategies.join(", ")};
  3. scores both on the same ${DEMO_SETTINGS.full.testExamples} held-out examples and prints one table: accuracy with a 95%
     bootstrap interval, trainable parameters, bytes stored per task, training time, tokens and
     time per example;
  4. writes DIR/report.html (self-contained: tables, plots, every prompt and answer).
A few minutes on 2 cores. Everything lands in DIR (default ./adaptlm-demo); --resume keeps rows
that finished before. Run the same on real models with adaptlm compare (see its --help).

Options:
  --out DIR     output folder (default ./adaptlm-demo)
  --quick       fewer examples and steps (about a minute)
  --seed N      seed for the task, training and demonstrations (default 0)
  --resume      keep finished rows of an earlier run in DIR
  --json        print the comparison as JSON instead of the table
  --engine      the engine demo instead: train a one-layer transformer from scratch on a toy
                task (which of 3 symbols occurs most often) and print its loss curve
  --steps N     engine demo: training steps (default ${defaultEngineDemoOptions.steps})
`;

function integerOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`--${name} must be a non-negative integer`);
  return parsed;
}

export async function runDemoCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: "string" },
      quick: { type: "boolean" },
      seed: { type: "string" },
      resume: { type: "boolean" },
      json: { type: "boolean" },
      engine: { type: "boolean" },
      steps: { type: "string" },
    },
    strict: true,
  });
  const seed = integerOption("seed", values.seed, 0);
  if (values.engine) {
    runEngine(
      integerOption("steps", values.steps, defaultEngineDemoOptions.steps),
      seed,
      values.json ?? false,
    );
    return;
  }
  const result = await runDemo({
    outputDir: values.out ?? "adaptlm-demo",
    seed,
    ...(values.quick ? { quick: true } : {}),
    ...(values.resume ? { resume: true } : {}),
    onEvent: progressRenderer(),
  });
  if (values.json) {
    console.log(JSON.stringify(result.report));
    return;
  }
  console.log(`\n${formatCompareTable(result.report)}\n`);
  console.log(`report: ${result.reportPath}`);
  console.log(`time: ${result.seconds.toFixed(0)} s`);
}

/** Progress on stderr: the task, then the comparison's rows as adaptlm compare shows them. */
function progressRenderer(): (event: DemoEvent) => void {
  const compareProgress = compareProgressRenderer();
  return (event) => {
    if (event.type === "task")
      console.error(
        `demo task: ${event.description}: ${event.train} train / ${event.test} test examples in ${event.dir}`,
      );
    else if (event.type === "compare") compareProgress(event.event);
  };
}

function runEngine(steps: number, seed: number, json: boolean): void {
  if (steps < 1) throw new Error("--steps must be a positive integer");
  const options = { ...defaultEngineDemoOptions, steps, seed };
  const bar = json ? null : new ProgressBar("training", options.steps);
  const result = runEngineDemo(options, (p) => bar?.update(p.step, `loss ${p.loss.toFixed(4)}`));
  bar?.finish();
  if (json) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(
    `\nadaptlm engine demo — backend: ${result.backend}, ${result.parameters} parameters, ${options.steps} steps of batch ${options.batchSize}, seed ${options.seed}\n`,
  );
  console.log("training loss (cross-entropy):");
  console.log(asciiChart(result.losses));
  console.log(
    `\nfirst loss ${result.losses[0].toFixed(4)}, last loss ${result.losses[result.losses.length - 1].toFixed(4)}`,
  );
  console.log(
    `train accuracy ${(100 * result.trainAccuracy).toFixed(1)}%   held-out accuracy ${(100 * result.testAccuracy).toFixed(1)}%   (majority-class baseline ${(100 * result.majorityBaseline).toFixed(1)}%)`,
  );
  console.log(`time ${result.seconds.toFixed(1)} s`);
}

export const command: CliCommand = {
  summary: "fine-tune vs prompt the lab models on a bundled task: table + report.html (--engine: toy demo)",
  help: demoHelp,
  run: runDemoCommand,
};
