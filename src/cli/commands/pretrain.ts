// `adaptlm pretrain`: trains a small BERT or Llama from scratch, from a named recipe or a config.json, and
// writes a Hugging Face model folder. Argument parsing and rendering only; the run is src/train/pretrain.ts.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadTokenizer } from "../../tokenizers/load.js";
import { labRecipeData } from "../../train/lab-recipe-data.js";
import {
  type PretrainEvent,
  type PretrainOptions,
  pretrainAsync,
  readTextDocuments,
  splitForValidation,
  tokenizerFilesOf,
} from "../../train/pretrain.js";
import { getRecipe, RECIPE_NAMES, RECIPES, recipeOptions } from "../../train/recipes.js";
import type { CliCommand } from "../command.js";
import { ProgressBar } from "../progress.js";
import { CliUsageError, numberOption } from "./pull.js";

const recipeLines = RECIPE_NAMES.map((name) => {
  const r = RECIPES[name];
  return `  ${name.padEnd(14)} ${r.description}\n  ${"".padEnd(14)} ${r.steps} steps x ${r.batchSize} x ${r.seqLen} tokens, ~${r.estimatedMinutes} min on 2 cores, ${r.dtype}`;
}).join("\n");

export const pretrainHelp = `adaptlm pretrain --recipe NAME [--out DIR] [options]
adaptlm pretrain --config config.json --tokenizer PATH --input FILE... --out DIR [options]
adaptlm pretrain --init MODEL_DIR --input FILE... --out DIR [options]

Trains a small language model from random initialisation (with --init: from a model folder's weights,
continued on your texts) and writes a Hugging Face model folder
(config.json, model.safetensors, tokenizer files, README.md model card, training_log.jsonl) that
adaptlm and Python transformers load. BERT configs train with the masked-LM objective (15% of
tokens masked), Llama configs with next-token prediction. Texts are tokenized once, joined with
[SEP] / EOS and cut into fixed blocks; blocks are shuffled each epoch with the seed.

AdamW (no decay on biases and norms), linear warm-up then cosine decay to 10% of the peak learning
rate, gradient clipping at 1.0. Validation loss and perplexity are printed every --eval-every
steps and at the end; for a causal LM also its loss on random token sequences each repeated once,
first copy -> second copy: the second falls far below the first once the model copies from its
context (induction heads), which few-shot learning of arbitrary labels needs.

A checkpoint (weights + optimizer moments + step) is written atomically to <out>/checkpoint at each
evaluation; --resume continues from it and ends with exactly the weights an uninterrupted run would
have. Ctrl-C writes a checkpoint and stops.

Recipes:
${recipeLines}

A recipe without --input trains on its built-in data (English corpus; decoders add synthetic
texts) when this build has it; with --tokenizer and --input it trains on your texts instead.

Options:
  --recipe NAME          a recipe above
  --config FILE          an HF config.json (model_type bert or llama, ...) instead of a recipe
  --init DIR             continue pretraining a model folder (its config, tokenizer and weights) on
                         --input texts, e.g. a task's unlabelled inputs (domain-adaptive pretraining)
  --tokenizer PATH       tokenizer folder or file (tokenizer.json, vocab.txt, ...); copied into --out
  --input FILE...        training texts: .txt (documents separated by blank lines), .jsonl/.json/.csv/.tsv
  --validation FILE...   validation texts (default: every 50th input document is held out)
  --text-field NAME      field holding the text in record files (default text)
  --out DIR              output folder (default ./<recipe>)
  --steps N              optimizer steps (default: the recipe's)
  --batch-size N         blocks per step (default: the recipe's, else 16)
  --seq-len N            tokens per block (default: the recipe's, else 128)
  --lr X                 peak learning rate (default: the recipe's, else 5e-4)
  --warmup N             warm-up steps (default: the recipe's, else 5% of the steps)
  --eval-every N         validate and checkpoint every N steps (default: the recipe's, else steps/10)
  --seed N               seed of initialisation, shuffling and masking (default 42)
  --dtype f16|f32        stored weights (default: the recipe's, else f32)
  --resume               continue from <out>/checkpoint
`;

export async function runPretrainCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      recipe: { type: "string" },
      config: { type: "string" },
      init: { type: "string" },
      tokenizer: { type: "string" },
      input: { type: "string", multiple: true },
      validation: { type: "string", multiple: true },
      "text-field": { type: "string" },
      out: { type: "string" },
      steps: { type: "string" },
      "batch-size": { type: "string" },
      "seq-len": { type: "string" },
      lr: { type: "string" },
      warmup: { type: "string" },
      "eval-every": { type: "string" },
      seed: { type: "string" },
      dtype: { type: "string" },
      resume: { type: "boolean" },
    },
    allowPositionals: false,
    strict: true,
  });
  const starts = [values.recipe, values.config, values.init].filter((v) => v !== undefined).length;
  if (starts !== 1)
    throw new CliUsageError(
      `pretrain needs exactly one of --recipe (${RECIPE_NAMES.join(", ")}), --config FILE or --init MODEL_DIR`,
    );
  if (values.init !== undefined) {
    const init = values.init;
    if (!existsSync(join(init, "config.json")))
      throw new CliUsageError(`--init needs a model folder with config.json: ${init} has none`);
    if ((values.input ?? []).length === 0)
      throw new CliUsageError("pretrain --init needs --input FILE... (the texts to continue on)");
    if (values.out === undefined) throw new CliUsageError("pretrain --init needs --out DIR");
    // the folder's own config and tokenizer, unless a tokenizer is given
    values.config = join(init, "config.json");
    values.tokenizer ??= init;
  }
  if (values.dtype !== undefined && values.dtype !== "f16" && values.dtype !== "f32")
    throw new CliUsageError(`--dtype must be f16 or f32, got "${values.dtype}"`);
  const integer = (name: string) => numberOption(values, name, { integer: true, min: 1 });
  const seed = numberOption(values, "seed", { integer: true, min: 0 }) ?? 42;
  const inputs = values.input ?? [];
  if (values.config !== undefined && (inputs.length === 0 || values.tokenizer === undefined))
    throw new CliUsageError("pretrain --config needs --tokenizer PATH and --input FILE...");
  if (inputs.length > 0 && values.tokenizer === undefined)
    throw new CliUsageError("--input needs --tokenizer PATH (the tokenizer the model will use)");
  if (values.config !== undefined && values.out === undefined)
    throw new CliUsageError("pretrain --config needs --out DIR");

  const recipe = values.recipe !== undefined ? getRecipe(values.recipe) : null;
  let data: Pick<PretrainOptions, "tokenizer" | "tokenizerFiles" | "trainTexts" | "validationTexts">;
  let dataDescription: string;
  if (inputs.length > 0) {
    const tokenizerPath = values.tokenizer as string;
    const documents = readTextDocuments(inputs, values["text-field"]);
    const split =
      values.validation !== undefined
        ? { train: documents, validation: readTextDocuments(values.validation, values["text-field"]) }
        : splitForValidation(documents, 0.02);
    data = {
      tokenizer: loadTokenizer(tokenizerPath),
      tokenizerFiles: tokenizerFilesOf(tokenizerPath),
      trainTexts: split.train,
      validationTexts: split.validation,
    };
    dataDescription = `${split.train.length} training and ${split.validation.length} validation documents from ${inputs.join(", ")}${values.validation ? ` (validation: ${values.validation.join(", ")})` : ""}.`;
  } else {
    const builtIn = labRecipeData(recipe as NonNullable<typeof recipe>, {
      seed,
      onProgress: (message) => console.error(message),
    });
    data = builtIn;
    dataDescription = builtIn.description;
  }

  const base: Omit<PretrainOptions, "tokenizer" | "trainTexts" | "outputDir"> = recipe
    ? recipeOptions(recipe, Math.max(data.tokenizer.vocabSize, Number(recipe.config.vocab_size)))
    : {
        config: JSON.parse(readFileSync(values.config as string, "utf8")) as Record<string, unknown>,
        seqLen: 128,
        batchSize: 16,
        steps: 1000,
        learningRate: 5e-4,
      };
  const options: PretrainOptions = {
    ...base,
    ...data,
    outputDir: values.out ?? `./${recipe?.name}`,
    seed,
    ...(values.init !== undefined ? { initFrom: values.init } : {}),
    resume: values.resume ?? false,
    card: {
      title: recipe ? `adaptlm ${recipe.name}` : undefined,
      data: dataDescription,
      recipe: recipe ? `Recipe \`${recipe.name}\`: ${recipe.description}.` : undefined,
    },
  };
  const steps = integer("steps");
  if (steps !== undefined) {
    options.steps = steps;
    // A shorter run keeps the recipe's shape: warm-up and evaluations scale with it.
    if (recipe && values.warmup === undefined) options.warmupSteps = Math.round(0.05 * steps);
    if (recipe && values["eval-every"] === undefined) {
      options.evalEvery = Math.max(1, Math.min(recipe.evalEvery, Math.floor(steps / 5)));
      options.checkpointEvery = options.evalEvery;
    }
  }
  const batchSize = integer("batch-size");
  if (batchSize !== undefined) options.batchSize = batchSize;
  const seqLen = integer("seq-len");
  if (seqLen !== undefined) options.seqLen = seqLen;
  const lr = numberOption(values, "lr", { min: Number.MIN_VALUE });
  if (lr !== undefined) options.learningRate = lr;
  const warmup = numberOption(values, "warmup", { integer: true, min: 0 });
  if (warmup !== undefined) options.warmupSteps = warmup;
  const evalEvery = integer("eval-every");
  if (evalEvery !== undefined) {
    options.evalEvery = evalEvery;
    options.checkpointEvery = evalEvery;
  }
  if (values.dtype !== undefined) options.dtype = values.dtype as "f16" | "f32";

  const abort = new AbortController();
  const onInterrupt = () => {
    if (abort.signal.aborted) process.exit(130);
    console.error("\ninterrupt: writing a checkpoint after this step (Ctrl-C again to quit now)");
    abort.abort();
  };
  process.on("SIGINT", onInterrupt);
  options.signal = abort.signal;
  let bar: ProgressBar | null = null;
  options.onEvent = (event: PretrainEvent) => {
    switch (event.type) {
      case "data":
        console.log(
          `data: ${event.trainTokens} training tokens (${event.trainBlocks} blocks of ${options.seqLen}), ${event.validationTokens} validation tokens (${event.validationBlocks} blocks)`,
        );
        break;
      case "resumed":
        console.log(`resumed from step ${event.step}`);
        break;
      case "step":
        bar ??= new ProgressBar("pretrain", event.totalSteps);
        bar.update(
          event.step,
          `loss ${event.loss.toFixed(4)} lr ${event.learningRate.toExponential(2)} ${Math.round(event.tokensPerSecond)} tok/s`,
        );
        break;
      case "eval": {
        const copies = event.repeatedSequence;
        const probe = copies
          ? `; repeated random sequence loss ${copies.firstCopy.toFixed(2)} -> ${copies.secondCopy.toFixed(2)} (first -> second copy)`
          : "";
        console.log(
          `step ${event.step}: validation loss ${event.loss.toFixed(4)}, perplexity ${event.perplexity.toFixed(2)}${probe}`,
        );
        break;
      }
      case "aborted":
        console.log(`stopped at step ${event.step}; continue with the same command and --resume`);
        break;
      default:
        break;
    }
  };
  // Yield once so that a SIGINT arriving during tokenization is seen; the run yields to the event loop after
  // every step, where the handler runs, and checks the signal before the next one.
  await new Promise((resolve) => setImmediate(resolve));
  const result = await pretrainAsync(options);
  process.off("SIGINT", onInterrupt);
  (bar as ProgressBar | null)?.finish();
  if (!result.completed) return;
  const fmt = (value: number | null, digits = 4) => (value === null ? "n/a" : value.toFixed(digits));
  console.log(`parameters: ${result.parameters} (${(result.parameters / 1e6).toFixed(2)}M)`);
  console.log(`steps: ${result.steps}, training tokens per epoch: ${result.trainTokens}`);
  console.log(`final training loss: ${fmt(result.finalTrainLoss)}`);
  console.log(
    `validation loss: ${fmt(result.validationLoss)}, perplexity: ${fmt(result.validationPerplexity, 2)}`,
  );
  console.log(`training time: ${(result.trainingSeconds / 60).toFixed(1)} min`);
  console.log(`model saved to ${result.outputDir}`);
}

export const command: CliCommand = {
  summary:
    "pretrain a small BERT or Llama from scratch (lab recipes or your config and texts), or continue one (--init)",
  help: pretrainHelp,
  run: runPretrainCommand,
};
