// `adaptlm serve <model>`: an OpenAI-compatible HTTP server over the local engine.

import { parseArgs } from "node:util";
import { loadAdapter } from "../../peft/adapter-store.js";
import type { Adapter } from "../../peft/method.js";
import { startOpenAIServer } from "../../serve/openai-server.js";
import { readChatTemplateFile } from "../../tokenizers/chat-template.js";
import type { CliCommand } from "../command.js";
import { CliUsageError, loadModelForCommand, modelArgument, numberOption } from "./pull.js";

export const serveHelp = `adaptlm serve <model> [options]

Serves a causal LM over an OpenAI-compatible API (as vLLM does): GET /v1/models,
POST /v1/completions (echo + logprobs for scoring), POST /v1/chat/completions (the model's
chat template from tokenizer_config.json, rendered as transformers does), n, seed, stop,
logprobs, SSE streaming. Requests run one at a time; the others wait in a bounded queue.
Adapters (as vLLM's LoRA modules): --adapter NAME=DIR loads a PEFT adapter folder onto the base;
clients ask for it with "model": "<name>:<NAME>" (GET /v1/models lists them all).

Options:
  --host HOST            interface to bind (default 127.0.0.1: this machine only)
  --port N               port (default 8000; 0 = any free port)
  --name NAME            model name clients send (default: <model> as given)
  --api-key-env VAR      require "Authorization: Bearer $VAR" (the key is read from that variable)
  --max-tokens N         largest max_tokens accepted (default 1024)
  --max-n N              largest n accepted (default 16)
  --max-queue N          requests running or waiting before 429 (default 16)
  --max-body-bytes N     largest request body (default 1048576)
  --adapter NAME=DIR     serve a PEFT adapter folder of a decoder (LoRA, prefix tuning, prompt
                         tuning, BitFit) as "<name>:NAME"; repeatable
  --chat-template FILE   chat template to use instead of the model's: a .jinja file, or a JSON
                         file with a "chat_template" field (e.g. another model's tokenizer_config.json)
  --chat-template-name N which of several named templates (default "default")
  --plain-chat           for a model without a chat template: render chat as a plain
                         "role: content" transcript (no model's trained format) instead of refusing
  --tokenizer PATH       tokenizer for a llama2.c .bin
  --revision REV         hub revision for a hub id
`;

export async function runServeCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      name: { type: "string" },
      "api-key-env": { type: "string" },
      "max-tokens": { type: "string" },
      "max-n": { type: "string" },
      "max-queue": { type: "string" },
      "max-body-bytes": { type: "string" },
      tokenizer: { type: "string" },
      revision: { type: "string" },
      "chat-template": { type: "string" },
      "chat-template-name": { type: "string" },
      "plain-chat": { type: "boolean" },
      adapter: { type: "string", multiple: true },
    },
    allowPositionals: true,
    strict: true,
  });
  const model = modelArgument(positionals, "serve");
  let apiKey: string | undefined;
  if (values["api-key-env"]) {
    apiKey = process.env[values["api-key-env"]];
    if (!apiKey)
      throw new CliUsageError(
        `--api-key-env ${values["api-key-env"]}: that environment variable is empty or unset`,
      );
  }
  const chatTemplates = values["chat-template"] ? readChatTemplateFile(values["chat-template"]) : undefined;
  const adapters = new Map<string, Adapter>();
  for (const spec of values.adapter ?? []) {
    const at = spec.indexOf("=");
    if (at <= 0 || at === spec.length - 1)
      throw new CliUsageError(`--adapter takes NAME=DIR (a PEFT adapter folder), got "${spec}"`);
    const adapterName = spec.slice(0, at);
    if (adapters.has(adapterName)) throw new CliUsageError(`--adapter ${adapterName} is given twice`);
    adapters.set(adapterName, loadAdapter(spec.slice(at + 1)));
  }
  const loaded = await loadModelForCommand(model, values);
  const maxTokens = numberOption(values, "max-tokens", { integer: true, min: 1 });
  const maxN = numberOption(values, "max-n", { integer: true, min: 1 });
  const maxQueue = numberOption(values, "max-queue", { integer: true, min: 1 });
  const maxBodyBytes = numberOption(values, "max-body-bytes", { integer: true, min: 1024 });
  const running = await startOpenAIServer(loaded, {
    modelName: values.name ?? model,
    host: values.host ?? "127.0.0.1",
    port: numberOption(values, "port", { integer: true, min: 0, max: 65535 }) ?? 8000,
    ...(apiKey ? { apiKey } : {}),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(maxN !== undefined ? { maxN } : {}),
    ...(maxQueue !== undefined ? { maxQueue } : {}),
    ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}),
    ...(chatTemplates ? { chatTemplates } : {}),
    ...(values["chat-template-name"] ? { chatTemplateName: values["chat-template-name"] } : {}),
    ...(values["plain-chat"] ? { plainChat: true } : {}),
    ...(adapters.size > 0 ? { adapters } : {}),
    onRequest: (e) => console.error(`${e.method} ${e.path} ${e.status} ${e.ms} ms`),
  });
  const served = values.name ?? model;
  console.log(`serving ${served} at ${running.url}${apiKey ? " (API key required)" : ""}`);
  for (const adapterName of adapters.keys()) console.log(`  adapter: ${served}:${adapterName}`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      void running.close().then(resolve);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}

export const command: CliCommand = {
  summary:
    "OpenAI-compatible HTTP server over the local engine (chat templates; adapters as <name>:<adapter>)",
  help: serveHelp,
  run: runServeCommand,
};
