// `adaptlm adapters <dir...>`: one row per adapter folder — method, task, trainable parameters, their share
// of the base model, bytes on disk — the "store only the adapter per task" table.

import { parseArgs } from "node:util";
import { checkpointParameterCount, resolveBaseModelDir, summarizeAdapter } from "../../peft/adapter-store.js";
import type { CliCommand } from "../command.js";

export const adaptersHelp = `adaptlm adapters <adapter folder...> [--base DIR] [--json]

Lists PEFT-format adapter folders (adapter_config.json + adapter_model.safetensors): the method
(peft_type), task, trainable parameters stored, their percentage of the base model, and the bytes
on disk. The base model is --base, or base_model_name_or_path resolved against the adapter folder,
its parent folders and the working directory; "-" when it cannot be found.

Options:
  --base DIR   base model folder (config.json + model.safetensors) for the percentage
  --json       one JSON object per line instead of a table
`;

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

export function runAdaptersCommand(argv: string[]): void {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { base: { type: "string" }, json: { type: "boolean" } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length === 0) {
    console.error(adaptersHelp);
    process.exitCode = 2;
    return;
  }
  const baseCounts = new Map<string, number>();
  const rows = positionals.map((dir) => {
    const s = summarizeAdapter(dir);
    const baseDir = values.base ?? resolveBaseModelDir(dir, s.baseModel);
    let base: number | null = null;
    if (baseDir) {
      if (!baseCounts.has(baseDir)) baseCounts.set(baseDir, checkpointParameterCount(baseDir));
      base = baseCounts.get(baseDir) as number;
    }
    return { ...s, baseParameters: base, percentOfBase: base ? (100 * s.parameters) / base : null };
  });
  if (values.json) {
    for (const r of rows) console.log(JSON.stringify(r));
    return;
  }
  const table = [
    ["adapter", "method", "task", "parameters", "% of base", "on disk"],
    ...rows.map((r) => [
      r.dir,
      r.peftType,
      r.taskType ?? "-",
      r.parameters.toLocaleString("en-US"),
      r.percentOfBase === null ? "-" : `${r.percentOfBase.toFixed(r.percentOfBase < 1 ? 3 : 2)}%`,
      formatBytes(r.bytes),
    ]),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  for (const row of table) {
    console.log(
      row
        .map((cell, c) => (c >= 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
        .join("  ")
        .trimEnd(),
    );
  }
}

export const command: CliCommand = {
  summary: "list adapter folders: method, trainable parameters, % of base, bytes on disk",
  help: adaptersHelp,
  run: runAdaptersCommand,
};
