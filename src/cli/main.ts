#!/usr/bin/env node
// The adaptlm command line: dispatches to one file per command, renders errors without stack traces.

import { onBackendSelected } from "../backend/registry.js";
import { AdaptlmError } from "../errors.js";
import { adaptersHelp, runAdaptersCommand } from "./commands/adapters.js";
import { backendsHelp, runBackendsCommand } from "./commands/backends.js";
import { conformanceHelp, runConformanceCommand } from "./commands/conformance.js";
import { demoHelp, runDemoCommand } from "./commands/demo.js";
import { fillMaskHelp, runFillMaskCommand } from "./commands/fill-mask.js";
import { generateHelp, runGenerateCommand } from "./commands/generate.js";
import { infoHelp, runInfoCommand } from "./commands/info.js";
import { promptHelp, runPromptCommand } from "./commands/prompt.js";
import { pullHelp, runPullCommand } from "./commands/pull.js";
import { runScoreCommand, scoreHelp } from "./commands/score.js";
import { runServeCommand, serveHelp } from "./commands/serve.js";
import { runTrainCommand, trainHelp } from "./commands/train.js";

interface Command {
  summary: string;
  help: string;
  run(argv: string[]): void | Promise<void>;
}

const commands: Record<string, Command> = {
  demo: {
    summary: "train a tiny transformer on a bundled toy task (engine demo)",
    help: demoHelp,
    run: runDemoCommand,
  },
  backends: {
    summary: "list the kernel backends available here",
    help: backendsHelp,
    run: runBackendsCommand,
  },
  conformance: {
    summary: "check every golden case on every backend against PyTorch",
    help: conformanceHelp,
    run: runConformanceCommand,
  },
  adapters: {
    summary: "list adapter folders: method, trainable parameters, % of base, bytes on disk",
    help: adaptersHelp,
    run: runAdaptersCommand,
  },
  info: {
    summary: "show a model's architecture, size, dtype, tokenizer and memory needs",
    help: infoHelp,
    run: runInfoCommand,
  },
  generate: {
    summary: "continue a prompt with a causal LM (streamed; --json for tokens and logprobs)",
    help: generateHelp,
    run: runGenerateCommand,
  },
  score: {
    summary: "log-likelihood of continuations after a prompt",
    help: scoreHelp,
    run: runScoreCommand,
  },
  "fill-mask": {
    summary: "top-k fillers for [MASK] with a masked LM",
    help: fillMaskHelp,
    run: runFillMaskCommand,
  },
  prompt: {
    summary: "evaluate a prompting strategy on a task file; results to a resumable run folder",
    help: promptHelp,
    run: runPromptCommand,
  },
  pull: {
    summary: "download a model from the Hugging Face hub into its cache",
    help: pullHelp,
    run: runPullCommand,
  },
  serve: {
    summary: "OpenAI-compatible HTTP server over the local engine",
    help: serveHelp,
    run: runServeCommand,
  },
  train: {
    summary: "fine-tune a sequence classifier (full or a PEFT method); saves the adapter",
    help: trainHelp,
    run: runTrainCommand,
  },
};

const usage = `adaptlm — make a language model a specialist (fine-tuning) or use it as a generalist (prompting)

Usage: adaptlm <command> [options]      adaptlm <command> --help for details

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`)
  .join("\n")}

Environment: ADAPTLM_BACKEND=native|wasm|reference, ADAPTLM_THREADS=N; hub: HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`adaptlm: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(command.help);
    return 0;
  }
  onBackendSelected((backend, reason) =>
    console.error(`adaptlm: using the ${backend.name} backend (${reason}), ${backend.threads} thread(s)`),
  );
  await command.run(rest);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof AdaptlmError) console.error(`adaptlm: ${error.message}`);
    else if (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))
      console.error(`adaptlm: ${error.message}`);
    else console.error(error);
    process.exitCode = 1;
  },
);
