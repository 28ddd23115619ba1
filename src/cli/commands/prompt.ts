// `adaptlm prompt <model|url> --task FILE --strategy ...`: evaluates a prompting strategy on a task file and
// writes every prompt, output and answer to a results-store run folder. Argument parsing and rendering only;
// the run itself is src/eval/prompt-run.ts.

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  defaultRunId,
  loadPromptTask,
  PROMPT_STRATEGIES,
  type PromptRunOptions,
  type PromptStrategy,
  promptRunSetupOptions,
  runPromptEvaluation,
} from "../../eval/prompt-run.js";
import { ResultsStore, type RunSetup } from "../../eval/results-store.js";
import { localEngineFactory } from "../../lm/local-engine.js";
import { SERVER_CAPABILITIES, type ServerKind } from "../../lm/openai-compatible.js";
import { buildLanguageModelStack } from "../../lm/stack.js";
import type { AnswerType } from "../../prompting/answer-extraction.js";
import type { ClassificationMethod } from "../../prompting/classification.js";
import type { LabelPerturbation } from "../../prompting/demonstrations.js";
import type { CliCommand } from "../command.js";
import { ProgressBar } from "../progress.js";
import { CliUsageError, modelArgument, numberOption } from "./pull.js";

export const promptHelp = `adaptlm prompt <model|url> --task FILE --strategy STRATEGY [options]

Evaluates a prompting strategy on a task file (.jsonl, .json, .csv, .tsv) and prints
"accuracy: X (n/N)" and the run folder. Classification strategies (zero-shot, few-shot) take
the labels from the data; answer strategies (cot, zero-shot-cot, self-consistency,
least-to-most) extract answers (number, yes-no, choice or text, inferred from the gold answers).
Every prompt, raw output, extracted answer and vote goes to <run folder>/examples.jsonl, the
setup and metric to <run folder>/run.json. Re-running with the same run folder resumes:
examples already recorded are skipped.

Strategies: ${PROMPT_STRATEGIES.join(", ")}

Options:
  --task FILE            the task file (required)
  --strategy S           the prompting strategy (required)
  --input-field NAME     field holding the input (default text)
  --label-field NAME     field holding the gold label or answer (default label)
  --k N                  demonstrations drawn from the task (default 4; 0 for zero-shot strategies)
  --samples N            self-consistency paths (default 5)
  --temperature T        sampling temperature (default 0.7 for self-consistency, else 0)
  --seed N               seed for demonstrations and sampling (default 0)
  --labels L             few-shot demonstration labels: gold|random|flipped|unrelated (default gold)
  --method M             classification: score|token-logprobs|generation (default: by capability)
  --answer-type T        number|yes-no|choice|text (default: inferred from the gold answers)
  --limit N              only the first N examples
  --out DIR              the run folder (default runs/<run-id>)
  --run-id ID            the run id (default: task, strategy and a hash of the setup, so the same
                         command resumes the same run)
  --model NAME           model name sent to a server (required for a URL)
  --server KIND          server preset: ${Object.keys(SERVER_CAPABILITIES).join("|")} (default generic)
  --tokenizer PATH       tokenizer for a local llama2.c .bin

<model|url>: an OpenAI-compatible server URL (http://host:port/v1), "replay:<file.jsonl>", or a
local model (folder, llama2.c .bin, hub id).
`;

function oneOf<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  name: string,
): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new CliUsageError(`--${name} must be one of ${allowed.join(", ")}, got "${value}"`);
  }
  return value as T;
}

export async function runPromptCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      task: { type: "string" },
      strategy: { type: "string" },
      "input-field": { type: "string" },
      "label-field": { type: "string" },
      k: { type: "string" },
      samples: { type: "string" },
      temperature: { type: "string" },
      seed: { type: "string" },
      labels: { type: "string" },
      method: { type: "string" },
      "answer-type": { type: "string" },
      limit: { type: "string" },
      out: { type: "string" },
      "run-id": { type: "string" },
      model: { type: "string" },
      server: { type: "string" },
      tokenizer: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  const target = modelArgument(positionals, "prompt");
  if (values.task === undefined)
    throw new CliUsageError("prompt needs --task FILE (a .jsonl, .json, .csv or .tsv file)");
  const strategy = oneOf<PromptStrategy>(values.strategy, PROMPT_STRATEGIES, "strategy");
  if (strategy === undefined)
    throw new CliUsageError(`prompt needs --strategy (${PROMPT_STRATEGIES.join(", ")})`);
  const fields = {
    inputField: values["input-field"] ?? "text",
    labelField: values["label-field"] ?? "label",
  };
  const options: PromptRunOptions = { strategy };
  const k = numberOption(values, "k", { integer: true, min: 0 });
  if (k !== undefined) options.k = k;
  const samples = numberOption(values, "samples", { integer: true, min: 1, max: 1000 });
  if (samples !== undefined) options.samples = samples;
  const temperature = numberOption(values, "temperature", { min: 0 });
  if (temperature !== undefined) options.temperature = temperature;
  options.seed = numberOption(values, "seed", { integer: true }) ?? 0;
  const labels = oneOf<LabelPerturbation>(
    values.labels,
    ["gold", "random", "flipped", "unrelated"],
    "labels",
  );
  if (labels !== undefined) options.labels = labels;
  const method = oneOf<ClassificationMethod>(
    values.method,
    ["score", "token-logprobs", "generation"],
    "method",
  );
  if (method !== undefined) options.method = method;
  const answerType = oneOf<AnswerType>(
    values["answer-type"],
    ["number", "yes-no", "choice", "text"],
    "answer-type",
  );
  if (answerType !== undefined) options.answerType = answerType;
  const limit = numberOption(values, "limit", { integer: true, min: 1 });
  if (limit !== undefined) options.limit = limit;
  const server = oneOf<ServerKind>(values.server, Object.keys(SERVER_CAPABILITIES) as ServerKind[], "server");

  const task = loadPromptTask(values.task, fields);
  const isUrl = /^https?:\/\//.test(target);
  const setup: RunSetup = {
    model: isUrl ? (values.model ?? "") : (values.model ?? target),
    ...(isUrl ? { endpoint: target } : {}),
    taskFile: resolve(values.task),
    strategy,
    options: promptRunSetupOptions(options, fields),
    seed: options.seed,
  };
  const runId = values["run-id"] ?? defaultRunId(setup);
  const dir = values.out ?? `runs/${runId}`;
  const stack = buildLanguageModelStack({
    target,
    ...(values.model ? { model: values.model } : {}),
    ...(server ? { http: { server } } : {}),
    localFactory: localEngineFactory(values.tokenizer ? { tokenizer: values.tokenizer } : {}),
  });
  const total = Math.min(task.length, options.limit ?? task.length);
  const bar = new ProgressBar(`prompt ${strategy}`, total);
  options.onProgress = (progress) =>
    bar.update(
      progress.done,
      `correct ${progress.correct}${progress.skipped > 0 ? `, resumed ${progress.skipped}` : ""}`,
    );
  try {
    const store = ResultsStore.open(dir, runId, setup);
    const result = await runPromptEvaluation(stack.lm, task, store, options);
    bar.finish();
    const { metric } = result;
    console.log(`recorded ${result.recorded} new example(s), ${result.skipped} already recorded`);
    console.log(`run: ${dir}`);
    console.log(`accuracy: ${metric.value.toFixed(4)} (${metric.correct}/${metric.total})`);
  } finally {
    stack.close();
  }
}

export const command: CliCommand = {
  summary: "evaluate a prompting strategy on a task file; results to a resumable run folder",
  help: promptHelp,
  run: runPromptCommand,
};
