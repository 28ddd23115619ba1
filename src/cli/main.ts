#!/usr/bin/env node
// The adaptlm command line: dispatches to one file per command, renders errors without stack traces.

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { onBackendSelected } from "../backend/registry.js";
import { AdaptlmError } from "../errors.js";
import type { CliCommand } from "./command.js";

const commandsDir = fileURLToPath(new URL("./commands/", import.meta.url));

/** Command names: one compiled file per command in ./commands/. */
function commandNames(): string[] {
  return readdirSync(commandsDir)
    .filter((file) => file.endsWith(".js"))
    .map((file) => file.slice(0, -".js".length))
    .sort();
}

async function loadCommand(name: string): Promise<CliCommand | undefined> {
  if (!/^[a-z][a-z0-9-]*$/.test(name) || !existsSync(join(commandsDir, `${name}.js`))) return undefined;
  const module = (await import(pathToFileURL(join(commandsDir, `${name}.js`)).href)) as {
    command?: CliCommand;
  };
  return module.command;
}

async function usage(): Promise<string> {
  const lines: string[] = [];
  for (const name of commandNames()) {
    const command = await loadCommand(name);
    if (command) lines.push(`  ${name.padEnd(16)} ${command.summary}`);
  }
  return `adaptlm — make a language model a specialist (fine-tuning) or use it as a generalist (prompting)

Usage: adaptlm <command> [options]      adaptlm <command> --help for details

Commands:
${lines.join("\n")}

Environment: ADAPTLM_BACKEND=native|wasm|reference, ADAPTLM_THREADS=N; hub: HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE
`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(await usage());
    return 0;
  }
  const command = await loadCommand(name);
  if (!command) {
    console.error(`adaptlm: unknown command "${name}"\n\n${await usage()}`);
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
