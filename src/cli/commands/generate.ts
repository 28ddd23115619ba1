// `adaptlm generate <model> --prompt ...`: text generation on the local engine, streamed to stdout.

import { parseArgs } from "node:util";
import {
  GENERATION_CONFIG_FILE,
  readGenerationConfig,
  type SamplingChoice,
  samplingDefaults,
} from "../../io/generation-config.js";
import { modelFolder } from "../../lm/local-engine.js";
import { generateText } from "../../models/text-generation.js";
import type { CliCommand } from "../command.js";
import { CliUsageError, loadModelForCommand, modelArgument, numberOption } from "./pull.js";

export const generateHelp = `adaptlm generate <model> --prompt TEXT [options]

Continues the prompt with a causal LM (GPT-2, Llama family, llama2.c checkpoints) and streams
the text to stdout. Greedy by default; sampling with --temperature > 0. A model folder's
${GENERATION_CONFIG_FILE} supplies the defaults of the flags not given (do_sample false = greedy;
temperature, top_k, top_p, max_new_tokens) and extra end-of-sequence ids (eos_token_id), as
transformers' generate() uses it.

Options:
  --prompt TEXT       the prompt (required; "" starts from BOS)
  --max-tokens N      tokens to generate at most (default 64, or max_new_tokens)
  --temperature T     0 = greedy (default 0, or the model's generation config)
  --top-k K           sample among the K most likely tokens (default 0 = all, or the model's)
  --top-p P           nucleus sampling mass (default 1, or the model's)
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

const FALLBACK_SAMPLING: SamplingChoice = { maxTokens: 64, temperature: 0, topK: 0, topP: 1 };

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
  const given: Partial<SamplingChoice> = {};
  const maxTokens = numberOption(values, "max-tokens", { integer: true, min: 1 });
  const temperature = numberOption(values, "temperature", { min: 0 });
  const topK = numberOption(values, "top-k", { integer: true, min: 0 });
  const topP = numberOption(values, "top-p", { min: Number.MIN_VALUE, max: 1 });
  if (maxTokens !== undefined) given.maxTokens = maxTokens;
  if (temperature !== undefined) given.temperature = temperature;
  if (topK !== undefined) given.topK = topK;
  if (topP !== undefined) given.topP = topP;
  const loaded = await loadModelForCommand(model, values);
  const folder = modelFolder(loaded);
  const modelDefaults = folder ? readGenerationConfig(folder) : null;
  const sampling = samplingDefaults(given, modelDefaults, FALLBACK_SAMPLING);
  if (modelDefaults && Object.keys(given).length < 4) {
    process.stderr.write(
      `generation_config.json: temperature ${sampling.temperature}, top-k ${sampling.topK}, top-p ${sampling.topP}, ` +
        `max tokens ${sampling.maxTokens} (flags override)\n`,
    );
  }
  const options = {
    ...sampling,
    extraEosTokenIds: modelDefaults?.eosTokenIds ?? [],
    seed: numberOption(values, "seed", { integer: true }) ?? 0,
    n: numberOption(values, "n", { integer: true, min: 1, max: 64 }) ?? 1,
    stop: values.stop ?? [],
    topLogprobs: numberOption(values, "logprobs", { integer: true, min: 0, max: 20 }) ?? 0,
  };
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
