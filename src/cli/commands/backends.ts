// `adaptlm backends`: which kernel backends load on this machine, and which one is used by default.

import { availableBackends, currentBackend } from "../../backend/registry.js";
import type { CliCommand } from "../command.js";

export const backendsHelp = `adaptlm backends

Lists the kernel backends available on this machine (native C addon, WebAssembly, reference
TypeScript), their thread counts, and the one adaptlm uses by default. Force one with
ADAPTLM_BACKEND=native|wasm|reference; set the thread count with ADAPTLM_THREADS.
`;

export function runBackendsCommand(): void {
  const chosen = currentBackend();
  for (const backend of availableBackends()) {
    console.log(
      `${backend.name === chosen.name ? "*" : " "} ${backend.name.padEnd(10)} threads ${backend.threads}`,
    );
  }
}

export const command: CliCommand = {
  summary: "list the kernel backends available here",
  help: backendsHelp,
  run: runBackendsCommand,
};
