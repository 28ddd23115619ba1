// `adaptlm conformance <golden folder>`: every case on every available backend against the PyTorch numbers.

import { parseArgs } from "node:util";
import type { Backend } from "../../backend/backend.js";
import { availableBackends, backendByName } from "../../backend/registry.js";
import { runConformance } from "../../eval/conformance/runner.js";
import type { CliCommand } from "../command.js";

export const conformanceHelp = `adaptlm conformance <golden folder> [--backend NAME] [--verbose]

Runs every case of a folder laid out like shared/golden (cases/<name>/case.json, inputs.json,
expected.safetensors, adapter/; models/<name>/config.json, model.safetensors) on every available
backend, with the tolerances of the golden README, and prints one line per case and backend:
  PASS|FAIL <case> <backend> <max-error>
then "N passed, N failed". Exit status 1 when any case fails.

Options:
  --backend NAME   only this backend (native, wasm or reference)
  --verbose        print every compared quantity of failing cases
`;

export function runConformanceCommand(argv: string[]): void {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { backend: { type: "string" }, verbose: { type: "boolean" } },
    allowPositionals: true,
    strict: true,
  });
  const root = positionals[0] ?? "../shared/golden";
  const backends: Backend[] = values.backend ? [backendByName(values.backend)] : availableBackends();
  let passed = 0;
  let failed = 0;
  runConformance(root, backends, (r) => {
    if (r.pass) passed++;
    else failed++;
    console.log(
      `${r.pass ? "PASS" : "FAIL"} ${r.caseName} ${r.backend} ${r.maxError.toExponential(2)}${r.error ? ` (${r.error})` : ""}`,
    );
    if (!r.pass && values.verbose) {
      for (const ch of r.checks.filter((x) => !x.pass)) {
        console.log(
          `    ${ch.quantity}: error ${ch.maxError} > ${ch.tolerance}${ch.detail ? ` (${ch.detail})` : ""}`,
        );
      }
    }
  });
  console.log(`${passed} passed, ${failed} failed`);
  if (failed > 0) process.exitCode = 1;
}

export const command: CliCommand = {
  summary: "check every golden case on every backend against PyTorch",
  help: conformanceHelp,
  run: runConformanceCommand,
};
