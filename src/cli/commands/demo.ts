// `adaptlm demo`: the engine demo (train a tiny transformer on the bundled toy task, print the loss curve
// and accuracy). Later issues turn this into the specialist-vs-generalist comparison on the lab models.

import { parseArgs } from "node:util";
import { defaultEngineDemoOptions, runEngineDemo } from "../../eval/engine-demo.js";
import { asciiChart } from "../chart.js";
import type { CliCommand } from "../command.js";
import { ProgressBar } from "../progress.js";

export const demoHelp = `adaptlm demo [--steps N] [--seed N] [--json]

Trains a one-layer transformer encoder from scratch, on adaptlm's own engine, on a bundled toy task
(which of 3 symbols occurs most often in a sequence of 16), then prints the loss curve and the
accuracy on 1,000 held-out sequences. Offline; a few seconds on the native backend, a minute or so
on the reference backend.

Options:
  --steps N   training steps (default ${defaultEngineDemoOptions.steps})
  --seed N    seed for data, initialisation and batching (default ${defaultEngineDemoOptions.seed})
  --json      print the result as one JSON object instead of the report
`;

export function runDemoCommand(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: { steps: { type: "string" }, seed: { type: "string" }, json: { type: "boolean" } },
    strict: true,
  });
  const options = {
    ...defaultEngineDemoOptions,
    steps: values.steps ? Number.parseInt(values.steps, 10) : defaultEngineDemoOptions.steps,
    seed: values.seed ? Number.parseInt(values.seed, 10) : defaultEngineDemoOptions.seed,
  };
  if (!Number.isInteger(options.steps) || options.steps < 1)
    throw new Error(`--steps must be a positive integer`);
  const bar = values.json ? null : new ProgressBar("training", options.steps);
  const result = runEngineDemo(options, (p) => bar?.update(p.step, `loss ${p.loss.toFixed(4)}`));
  bar?.finish();
  if (values.json) {
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
  summary: "train a tiny transformer on a bundled toy task (engine demo)",
  help: demoHelp,
  run: runDemoCommand,
};
