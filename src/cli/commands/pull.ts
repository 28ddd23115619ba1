// `adaptlm pull <org/name>`: downloads a model from the hub into the Hugging Face cache (resuming partial
// downloads) and prints the snapshot folder. Also the model-argument plumbing the model commands share:
// `<model>` is a folder, a llama2.c .bin (with --tokenizer) or a hub id, downloaded with a progress line.

import { parseArgs } from "node:util";
import { AdaptlmError } from "../../errors.js";
import { type DownloadProgress, snapshotDownload } from "../../io/hub.js";
import { type LoadedModel, type LoadModelOptions, loadModel } from "../../models/load-model.js";
import type { CliCommand } from "../command.js";

export const pullHelp = `adaptlm pull <org/name> [--revision REV]

Downloads config.json, the weights (model.safetensors, or every shard named by
model.safetensors.index.json) and the tokenizer files of a Hugging Face model into the
Hugging Face cache, resuming partial downloads and checking sizes and sha256 sums.
Prints the snapshot folder (usable as <model> anywhere).

Environment: HF_ENDPOINT (default https://huggingface.co), HF_HUB_CACHE or HF_HOME
(cache folder), HF_TOKEN (gated or private models), HF_HUB_OFFLINE=1 (cache only).
`;

/** CLI usage error (bad or missing arguments). */
export class CliUsageError extends AdaptlmError {
  constructor(message: string) {
    super("CLI_USAGE", message);
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

/** A download progress renderer on stderr: one line per finished file, redrawn in place on a terminal. */
export function downloadProgressRenderer(
  stream: NodeJS.WriteStream = process.stderr,
): (p: DownloadProgress) => void {
  let lastDraw = 0;
  return (progress) => {
    if (progress.done) {
      if (stream.isTTY) stream.write("\r\x1b[K");
      stream.write(`downloaded ${progress.file} (${formatBytes(progress.downloaded)})\n`);
      return;
    }
    const now = Date.now();
    if (!stream.isTTY || now - lastDraw < 100) return;
    lastDraw = now;
    const total = progress.total ? ` / ${formatBytes(progress.total)}` : "";
    stream.write(`\r${progress.file} ${formatBytes(progress.downloaded)}${total}\x1b[K`);
  };
}

/** Loads `<model>` for a command (hub ids downloaded with progress on stderr). */
export function loadModelForCommand(
  model: string,
  values: { tokenizer?: string | undefined; revision?: string | undefined },
  extra: Pick<LoadModelOptions, "kind"> = {},
): Promise<LoadedModel> {
  const options: LoadModelOptions = { ...extra, onDownloadProgress: downloadProgressRenderer() };
  if (values.tokenizer) options.tokenizer = values.tokenizer;
  if (values.revision) options.hub = { revision: values.revision };
  return loadModel(model, options);
}

/** Parses a numeric option; undefined when absent. */
export function numberOption(
  values: Record<string, unknown>,
  name: string,
  check: { integer?: boolean; min?: number; max?: number } = {},
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  const bad =
    raw === "" ||
    !Number.isFinite(value) ||
    (check.integer && !Number.isInteger(value)) ||
    (check.min !== undefined && value < check.min) ||
    (check.max !== undefined && value > check.max);
  if (bad) {
    const range = [
      check.integer ? "an integer" : "a number",
      check.min !== undefined ? `>= ${check.min}` : "",
      check.max !== undefined ? `<= ${check.max}` : "",
    ]
      .filter(Boolean)
      .join(" ");
    throw new CliUsageError(`--${name} must be ${range}, got "${String(raw)}"`);
  }
  return value;
}

/** The single positional <model> argument. */
export function modelArgument(positionals: string[], command: string): string {
  if (positionals.length !== 1) {
    throw new CliUsageError(
      `${command} takes one <model> (a folder, a llama2.c .bin or a hub id <org>/<name>), got ${positionals.length}: see adaptlm ${command} --help`,
    );
  }
  return positionals[0];
}

export async function runPullCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { revision: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  const repoId = modelArgument(positionals, "pull");
  const folder = await snapshotDownload(repoId, {
    ...(values.revision ? { revision: values.revision } : {}),
    onProgress: downloadProgressRenderer(),
  });
  console.log(folder);
}

export const command: CliCommand = {
  summary: "download a model from the Hugging Face hub into its cache",
  help: pullHelp,
  run: runPullCommand,
};
