// `adaptlm info <model>`: what a model is and what it needs, read from its config and checkpoint header.

import { parseArgs } from "node:util";
import { describeModel } from "../../models/load-model.js";
import type { CliCommand } from "../command.js";
import { downloadProgressRenderer, modelArgument } from "./pull.js";

export const infoHelp = `adaptlm info <model> [--tokenizer PATH] [--revision REV] [--json]

Shows a model's architecture (model_type, class, kind), sizes, parameter count, stored dtype,
tokenizer and the memory it needs (float32 weights as the engine holds them, plus a KV cache
for one sequence of the full context). Reads only the config and the checkpoint header.

<model>: a model folder, a llama2.c .bin (tokenizer via --tokenizer or tokenizer.bin next to
it), or a hub id <org>/<name>: its config and tokenizer files are downloaded into the Hugging
Face cache, and of the weights only the safetensors headers (HTTP Range requests), never the
weights themselves.
`;

function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function count(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

export async function runInfoCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { tokenizer: { type: "string" }, revision: { type: "string" }, json: { type: "boolean" } },
    allowPositionals: true,
    strict: true,
  });
  const model = modelArgument(positionals, "info");
  const d = await describeModel(model, {
    ...(values.tokenizer ? { tokenizer: values.tokenizer } : {}),
    ...(values.revision ? { hub: { revision: values.revision } } : {}),
    onDownloadProgress: downloadProgressRenderer(),
  });
  const c = d.config;
  const tokenizer = d.tokenizer ? { kind: d.tokenizer.kind, vocabSize: d.tokenizer.vocabSize } : null;
  const info = {
    model,
    path: d.source.path,
    format: d.source.format,
    modelType: c.modelType,
    architectures: c.architectures,
    kind: d.kind,
    layers: c.numLayers,
    hiddenSize: c.hiddenSize,
    heads: c.numHeads,
    kvHeads: c.numKvHeads,
    intermediateSize: c.intermediateSize,
    vocabSize: c.vocabSize,
    context: c.maxPositions,
    tiedEmbeddings: c.tieWordEmbeddings,
    parameters: d.parameters,
    storedDtypes: d.storedDtypes,
    storedBytes: d.storedBytes,
    float32WeightBytes: d.float32Bytes,
    kvCacheBytes: d.kvCacheBytes,
    memoryBytes: d.float32Bytes + d.kvCacheBytes,
    tokenizer,
  };
  if (values.json) {
    console.log(JSON.stringify(info));
    return;
  }
  const rows: [string, string][] = [
    ["model", model],
    ["format", `${d.source.format} (${d.source.path})`],
    [
      "architecture",
      `${c.modelType} ${c.architectures.join(", ") || "(no architectures field)"} -> ${d.kind}`,
    ],
    [
      "shape",
      `${c.numLayers} layers, hidden ${c.hiddenSize}, ${c.numHeads} heads` +
        (c.numKvHeads !== c.numHeads ? ` (${c.numKvHeads} kv heads)` : "") +
        `, ffn ${c.intermediateSize}, vocab ${c.vocabSize}, context ${c.maxPositions}`,
    ],
    [
      "parameters",
      `${count(d.parameters)} (${d.parameters})${c.tieWordEmbeddings ? ", embeddings tied" : ""}`,
    ],
    ["dtype", `${d.storedDtypes.join(", ") || "?"} on disk (${bytes(d.storedBytes)}); computed in float32`],
    [
      "tokenizer",
      tokenizer ? `${tokenizer.kind}, ${tokenizer.vocabSize} tokens` : "none found (pass --tokenizer)",
    ],
    [
      "memory",
      `${bytes(d.float32Bytes + d.kvCacheBytes)} = weights ${bytes(d.float32Bytes)} (float32)` +
        (d.kvCacheBytes > 0
          ? ` + KV cache ${bytes(d.kvCacheBytes)} (one sequence of ${c.maxPositions} tokens)`
          : ""),
    ],
  ];
  for (const [key, value] of rows) console.log(`${key.padEnd(13)} ${value}`);
}

export const command: CliCommand = {
  summary: "show a model's architecture, size, dtype, tokenizer and memory needs",
  help: infoHelp,
  run: runInfoCommand,
};
