// `adaptlm rl-prompt <model|url> --task FILE --vocabulary WORDS`: discrete prompt search by REINFORCE after
// RLPrompt (src/prompting/rl-prompt.ts) over a classification task file: the labels come from the data (with
// optional verbalizers), the prompt a template of the found words and the example. Writes the best and final
// prompts, the reward curve, every step's prompts and rewards, and the cost (LM calls, tokens) as JSON to
// --out, and prints the curve as a table. Parsing and rendering only.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { writeFileAtomic } from "../../io/atomic-file.js";
import type { Candidate, ClassificationMethod } from "../../prompting/classification.js";
import type { LabelledExample } from "../../prompting/example.js";
import { type RlPromptOptions, searchPromptRl } from "../../prompting/rl-prompt.js";
import { renderTemplate, templateFields } from "../../prompting/template.js";
import { inferLabels } from "../../train/dataset.js";
import { asciiChart } from "../chart.js";
import type { CliCommand } from "../command.js";
import {
  costLine,
  readTaskRecords,
  renderTable,
  SEARCH_TARGET_HELP,
  SEARCH_TARGET_OPTIONS,
  searchCost,
  searchTarget,
} from "./ape.js";
import { CliUsageError, numberOption } from "./pull.js";

const DEFAULT_TEMPLATE = "{{prompt}}\nInput: {{input}}\nLabel:";

export const rlPromptHelp = `adaptlm rl-prompt <model> --task FILE --vocabulary WORDS [options]

Discrete prompt search by reinforcement learning (after RLPrompt, Deng et al., 2022): a policy
writes prompts of --length words from the vocabulary; each is scored on a batch of the task's
examples (accuracy, or RLPrompt's piecewise label-probability gap); REINFORCE with z-normalised
rewards. Prints the reward curve, the best prompt and the cost. The labels are the task's
distinct gold values; each is scored as the continuation " <label>" (or its --verbalizers word).

Options:
${SEARCH_TARGET_HELP}
  --vocabulary WORDS     comma-separated words prompts are made of
  --vocabulary-file FILE one word per line (instead of --vocabulary)
  --length N             words per prompt (default 5)
  --steps N              policy updates (default 20)
  --batch-size N         prompts sampled per step (default 4)
  --examples-per-step N  examples each prompt is scored on per step (default 8)
  --learning-rate X      (default 1)
  --correct-weight X     margin reward: gap x X when the prediction is right (default 200)
  --incorrect-weight X   margin reward: gap x X when it is wrong (default 180)
  --reward R             margin|accuracy (default margin; margin needs score or logprobs)
  --method M             score|token-logprobs|generation (default: by the backend's capabilities)
  --template T           the task prompt, with {{prompt}} and {{input}} (default
                         "{{prompt}}\\nInput: {{input}}\\nLabel:"; \\n is a newline)
  --verbalizers MAP      label=word pairs, comma-separated (e.g. 0=negative,1=positive)
`;

function parseVocabulary(values: { vocabulary?: string; "vocabulary-file"?: string }): string[] {
  if (values.vocabulary !== undefined && values["vocabulary-file"] !== undefined)
    throw new CliUsageError("give --vocabulary or --vocabulary-file, not both");
  const words =
    values["vocabulary-file"] !== undefined
      ? readFileSync(values["vocabulary-file"], "utf8").split("\n")
      : (values.vocabulary ?? "").split(",");
  const vocabulary = [...new Set(words.map((word) => word.trim()).filter(Boolean))];
  if (vocabulary.length === 0)
    throw new CliUsageError(
      "rl-prompt needs a vocabulary: --vocabulary word1,word2,... or --vocabulary-file FILE",
    );
  return vocabulary;
}

function parseVerbalizers(text: string | undefined, labels: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  if (text === undefined) return map;
  for (const entry of text.split(",")) {
    const at = entry.indexOf("=");
    if (at <= 0) throw new CliUsageError(`--verbalizers entries are label=word, got "${entry}"`);
    const label = entry.slice(0, at).trim();
    if (!labels.includes(label))
      throw new CliUsageError(
        `--verbalizers names label "${label}", but the task's labels are ${labels.join(", ")}`,
      );
    map[label] = entry.slice(at + 1).trim();
  }
  return map;
}

export async function runRlPromptCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...SEARCH_TARGET_OPTIONS,
      vocabulary: { type: "string" },
      "vocabulary-file": { type: "string" },
      length: { type: "string" },
      steps: { type: "string" },
      "batch-size": { type: "string" },
      "examples-per-step": { type: "string" },
      "learning-rate": { type: "string" },
      "correct-weight": { type: "string" },
      "incorrect-weight": { type: "string" },
      reward: { type: "string" },
      method: { type: "string" },
      template: { type: "string" },
      verbalizers: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  const inputField = values["input-field"] ?? "text";
  const labelField = values["label-field"] ?? "label";
  const records = readTaskRecords(values.task, "rl-prompt", inputField, labelField);
  const vocabulary = parseVocabulary(values);
  const labels = inferLabels(records, labelField);
  if (labels.length < 2)
    throw new CliUsageError(
      `rl-prompt needs a classification task with at least 2 labels; found ${labels.join(", ")}`,
    );
  const verbalizers = parseVerbalizers(values.verbalizers, labels);
  const candidates: Candidate[] = labels.map((label) => ({
    label,
    continuation: ` ${verbalizers[label] ?? label}`,
  }));
  const template = (values.template ?? DEFAULT_TEMPLATE).replace(/\\n/g, "\n");
  const unknown = templateFields(template).filter((name) => name !== "prompt" && name !== "input");
  if (unknown.length > 0)
    throw new CliUsageError(
      `--template may use {{prompt}} and {{input}} only, found {{${unknown.join("}}, {{")}}}`,
    );
  const examples: LabelledExample[] = records.map((record, index) => ({
    id: String(record.id ?? index),
    fields: { input: String(record[inputField]) },
    label: String(record[labelField]),
  }));
  const reward = values.reward ?? "margin";
  if (reward !== "margin" && reward !== "accuracy")
    throw new CliUsageError(`--reward must be margin or accuracy, got "${reward}"`);
  const methods: ClassificationMethod[] = ["score", "token-logprobs", "generation"];
  if (values.method !== undefined && !(methods as string[]).includes(values.method))
    throw new CliUsageError(`--method must be one of ${methods.join(", ")}, got "${values.method}"`);
  const seed = numberOption(values, "seed", { integer: true }) ?? 0;

  const options: RlPromptOptions = {
    vocabulary,
    examples,
    buildPrompt: (prompt, example) => renderTemplate(template, { prompt, input: example.fields.input }),
    candidates: () => candidates,
    reward,
    seed,
  };
  if (values.method !== undefined) options.method = values.method as ClassificationMethod;
  const chosen: Record<string, number> = {};
  const numeric: Array<[string, keyof RlPromptOptions, { integer?: boolean; min?: number; max?: number }]> = [
    ["length", "promptLength", { integer: true, min: 1, max: 64 }],
    ["steps", "steps", { integer: true, min: 1 }],
    ["batch-size", "batchSize", { integer: true, min: 1 }],
    ["examples-per-step", "examplesPerStep", { integer: true, min: 1 }],
    ["learning-rate", "learningRate", { min: 0 }],
    ["correct-weight", "correctWeight", { min: 0 }],
    ["incorrect-weight", "incorrectWeight", { min: 0 }],
  ];
  for (const [flag, key, check] of numeric) {
    const value = numberOption(values, flag, check);
    if (value !== undefined) chosen[key] = value;
  }
  Object.assign(options, chosen);

  const target = searchTarget("rl-prompt", positionals, values);
  const totalSteps = options.steps ?? 20;
  options.onStep = (step) =>
    process.stderr.write(
      `\rstep ${step.step + 1}/${totalSteps}, mean reward ${step.meanReward.toFixed(3)}   `,
    );
  try {
    const result = await searchPromptRl(target.stack.lm, options);
    process.stderr.write("\n");
    const cost = searchCost(target.stack.meter.snapshot());
    const rows = result.steps.map((step) => {
      const bestIndex = step.rewards.indexOf(Math.max(...step.rewards));
      return [
        String(step.step + 1),
        step.meanReward.toFixed(3),
        step.rewards[bestIndex].toFixed(3),
        step.prompts[bestIndex],
      ];
    });
    console.log(
      renderTable(["step", "mean reward", "best reward", "best prompt of the step"], rows, [0, 1, 2]),
    );
    if (result.rewardCurve.length > 1) console.log(asciiChart(result.rewardCurve));
    console.log(`best prompt (reward ${result.bestReward.toFixed(3)}): ${result.bestPrompt}`);
    console.log(`final policy prompt: ${result.finalPrompt}`);
    console.log(costLine(cost));
    if (values.out !== undefined) {
      const report = {
        method: "rl-prompt",
        model: target.model,
        ...(target.endpoint ? { endpoint: target.endpoint } : {}),
        task: values.task,
        fields: { input: inputField, label: labelField },
        seed,
        options: { reward, ...(options.method ? { method: options.method } : {}), template, ...chosen },
        vocabulary,
        candidates,
        bestPrompt: result.bestPrompt,
        bestReward: result.bestReward,
        finalPrompt: result.finalPrompt,
        rewardCurve: result.rewardCurve,
        steps: result.steps,
        cost,
      };
      writeFileAtomic(values.out, `${JSON.stringify(report, null, 2)}\n`);
      console.log(`wrote ${values.out}`);
    }
  } finally {
    target.stack.close();
  }
}

export const command: CliCommand = {
  summary: "RL prompt search (RLPrompt-style REINFORCE) on a classification task file",
  help: rlPromptHelp,
  run: runRlPromptCommand,
};
