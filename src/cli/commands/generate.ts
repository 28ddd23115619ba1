// `adaptlm generate <model> --prompt ...`: text generation on the local engine, streamed to stdout.

import { parseArgs } from "node:util";
import { generateText } from "../../models/text-generation.js";
import type { CliCommand } from "../command.js";
import { CliUsageError, loadModelForCommand, modelArgument, numberOption } from "./pull.js";

export const generateHelp = `adaptlm generate <model> --prompt TEXT [options]

Continues the prompt with a causal LM (GPT-2, Llama family, llama2.c checkpoints) and streams
the text to stdout. Greedy by default; sampling with --temperature > 0.

Options:
  --prompt TEXT       the prompt (required; "" starts from BOS)
  --max-tokens N      tokens to generate at most (default 64)
  --temperature T     0 = greedy (default 0)
  --top-k K           sample among the K most likely tokens (default 0 = all)
  --top-p P           nucleus sampling mass (default 1)
  --seed N            sampling seed (default 0); sample i of --n uses seed N + i
  --n N               samples, sharing one prefill of the prompt (default 1)
  --stop S            stop before the text S (repeatable)
  --logprobs K        with --json: K most likely alternatives per token (default 0)
  --json              print one JSON object: prompt tokens, and per sample the text, finish
                      reason and every token with its logprob
  --tokenizer PATH    tokenizer file or folder (needed for a llama2.c .bin without tokenizer.bin)
  --revision REV      hub revision for a hub id (default main)

<model>: a model folder, a llama2.c .bin, or a hub id <org>/<name>.
`;

export async function runGenerateCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      prompt: { type: "string" },
      "max-tokens": { type: "string" },
      temperature: { type: "string" },
      "top-k": { type: "string" },
      "top-p": { type: "string" },
      seed: { type: "string" },
      n: { type: "string" },
      stop: { type: "string", multiple: true },
      logprobs: { type: "string" },
      json: { type: "boolean" },
      tokenizer: { type: "string" },
      revision: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  const model = modelArgument(positionals, "generate");
  if (values.prompt === undefined)
    throw new CliUsageError('generate needs --prompt TEXT (use --prompt "" to start from BOS)');
  const options = {
    maxTokens: numberOption(values, "max-tokens", { integer: true, min: 1 }) ?? 64,
    temperature: numberOption(values, "temperature", { min: 0 }) ?? 0,
    topK: numberOption(values, "top-k", { integer: true, min: 0 }) ?? 0,
    topP: numberOption(values, "top-p", { min: Number.MIN_VALUE, max: 1 }) ?? 1,
    seed: numberOption(values, "seed", { integer: true }) ?? 0,
    n: numberOption(values, "n", { integer: true, min: 1, max: 64 }) ?? 1,
    stop: values.stop ?? [],
    topLogprobs: numberOption(values, "logprobs", { integer: true, min: 0, max: 20 }) ?? 0,
  };
  const loaded = await loadModelForCommand(model, values);
  const stream = !values.json && options.n === 1;
  const result = generateText(loaded, [values.prompt], {
    ...options,
    ...(stream ? { onText: (_p: number, _s: number, text: string) => process.stdout.write(text) } : {}),
  });
  const samples = result.samples[0];
  if (values.json) {
    console.log(
      JSON.stringify({
        model,
        prompt: values.prompt,
        promptTokens: result.promptIds[0],
        samples: samples.map((s) => ({
          text: s.text,
          finishReason: s.finishReason,
          tokens: s.tokens.map((t) => ({
            id: t.id,
            text: t.text,
            logprob: t.logprob,
            ...(options.topLogprobs > 0 ? { topLogprobs: t.topLogprobs } : {}),
          })),
        })),
      }),
    );
    return;
  }
  if (stream) {
    process.stdout.write("\n");
    return;
  }
  samples.forEach((sample, i) => {
    console.log(
      `--- sample ${i + 1} of ${samples.length} (${sample.finishReason}, ${sample.tokens.length} tokens)`,
    );
    console.log(sample.text);
  });
}

export const command: CliCommand = {
  summary: "continue a prompt with a causal LM (streamed; --json for tokens and logprobs)",
  help: generateHelp,
  run: runGenerateCommand,
};
