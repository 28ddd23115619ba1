#!/usr/bin/env node
// The adaptlm command line: dispatches to one file per command, renders errors without stack traces.

import { onBackendSelected } from "../backend/registry.js";
import { AdaptlmError } from "../errors.js";
import { adaptersHelp, runAdaptersCommand } from "./commands/adapters.js";
import { backendsHelp, runBackendsCommand } from "./commands/backends.js";
import { conformanceHelp, runConformanceCommand } from "./commands/conformance.js";
import { demoHelp, runDemoCommand } from "./commands/demo.js";

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
};

const usage = `adaptlm — make a language model a specialist (fine-tuning) or use it as a generalist (prompting)

Usage: adaptlm <command> [options]      adaptlm <command> --help for details

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join("\n")}

Environment: ADAPTLM_BACKEND=native|wasm|reference, ADAPTLM_THREADS=N
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
