// `adaptlm ui`: a local web app over a results folder (runs list, run detail with charts and an example
// browser, side-by-side comparison, a strategy playground). Argument parsing and printing only; the server is
// src/ui/.

import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { secretsFromEnvironment } from "../../eval/report/redact.js";
import { localEngineFactory } from "../../lm/local-engine.js";
import { buildLanguageModelStack, type LanguageModelStack } from "../../lm/stack.js";
import { Playground } from "../../ui/playground.js";
import { RunCatalog } from "../../ui/run-catalog.js";
import { isLoopbackHost, startUiServer } from "../../ui/ui-server.js";
import type { CliCommand } from "../command.js";
import { CliUsageError, numberOption } from "./pull.js";

export const uiHelp = `adaptlm ui [--results DIR] [--port N] [--host H] [--model PATH | --endpoint URL --model NAME] [--open]

Starts a local web app (served by this process: no CDN, nothing fetched from elsewhere) to
browse and compare the runs in a results folder and to try prompting strategies:
  Runs         every run found in the folder (prompt runs, train runs, adapters, compare.json
               tables): kind, model, task, strategy or method, metric with a seeded 95%
               bootstrap interval, date; a filter box; tick runs to compare them
  Run          setup, options, metric, charts (the same Vega charts as adaptlm report) and an
               example browser: input, every prompt sent, raw outputs, extracted answers,
               votes, gold and verdict, with paging and a wrong-only filter
  Compare      two or more runs side by side: metrics, how many shared examples agree, and
               the examples where their answers or verdicts differ
  Playground   pick a strategy (zero-shot, few-shot, cot, zero-shot-cot, self-consistency,
               least-to-most), k, samples and temperature, and a run whose examples give the
               demonstrations and labels; type an input; see the prompts sent, the raw
               outputs, the extracted answer and the votes. It runs the same code as
               adaptlm prompt, on the model given at startup.

The folder is read when first shown; "Reload folder" reads it again (new or finished runs).

Options:
  --results DIR       the results folder (default ./runs)
  --port N            port (default 0: any free port; the URL is printed)
  --host H            address to bind (default 127.0.0.1). Anything else exposes your runs and
                      the model to the network: a warning is printed
  --model PATH        playground model: a local model folder, llama2.c .bin or hub id; with
                      --endpoint, the model name sent to the server
  --endpoint URL      playground model on an OpenAI-compatible server (http://host:port/v1)
  --api-key-env VAR   environment variable holding the server's API key (default
                      OPENAI_API_KEY); the key is sent only to the endpoint, never to the page
  --tokenizer PATH    tokenizer for a local llama2.c .bin
  --timeout S         playground time limit per request in seconds (default 120)
  --open              open the URL in the default browser
  --quiet             do not log requests

Stop with Ctrl-C.
`;

export async function runUiCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      results: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      model: { type: "string" },
      endpoint: { type: "string" },
      "api-key-env": { type: "string" },
      tokenizer: { type: "string" },
      timeout: { type: "string" },
      open: { type: "boolean" },
      quiet: { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0)
    throw new CliUsageError(
      `ui takes no positional argument, got "${positionals.join(" ")}": give the folder with --results DIR`,
    );
  const port = numberOption(values, "port", { integer: true, min: 0, max: 65535 }) ?? 0;
  const timeoutSeconds = numberOption(values, "timeout", { min: 1 }) ?? 120;
  const host = values.host ?? "127.0.0.1";
  if (values.endpoint !== undefined && !/^https?:\/\//.test(values.endpoint))
    throw new CliUsageError(`--endpoint must be an http:// or https:// URL, got "${values.endpoint}"`);
  if (values.endpoint !== undefined && values.model === undefined)
    throw new CliUsageError("--endpoint needs --model NAME (the model name the server serves)");
  const apiKeyEnv = values["api-key-env"];
  if (apiKeyEnv !== undefined && values.endpoint === undefined)
    throw new CliUsageError("--api-key-env is for --endpoint (a local --model needs no key)");
  if (apiKeyEnv !== undefined && !process.env[apiKeyEnv]?.trim())
    throw new CliUsageError(`--api-key-env ${apiKeyEnv}: that environment variable is empty or unset`);

  // every credential-like variable (and so the key) is kept out of pages, errors and logs
  const secrets = secretsFromEnvironment(process.env);
  // the key's variable may have any name: its value is a secret whatever the name says
  const apiKey = process.env[apiKeyEnv ?? "OPENAI_API_KEY"]?.trim();
  if (values.endpoint !== undefined && apiKey) secrets.push(apiKey);
  const catalog = new RunCatalog(values.results ?? "runs", { secrets });
  let stack: LanguageModelStack | undefined;
  if (values.model !== undefined) {
    stack = buildLanguageModelStack({
      target: values.endpoint ?? values.model,
      ...(values.endpoint !== undefined
        ? { model: values.model, http: { apiKeyEnv: apiKeyEnv ?? "OPENAI_API_KEY" } }
        : {}),
      localFactory: localEngineFactory(values.tokenizer ? { tokenizer: values.tokenizer } : {}),
    });
  }
  const playground = stack
    ? new Playground(stack.lm, {
        timeoutMs: timeoutSeconds * 1000,
        examplesOf: (id) => catalog.allExamples(id),
        secrets,
      })
    : undefined;
  const running = await startUiServer({
    catalog,
    ...(playground ? { playground } : {}),
    host,
    port,
    secrets,
    ...(values.quiet
      ? {}
      : { onRequest: (e) => console.error(`${e.method} ${e.path} ${e.status} ${e.ms} ms`) }),
  });
  if (!isLoopbackHost(host)) {
    console.error(
      `warning: bound to ${host}: anyone who can reach this address can read the runs in ${catalog.resultsDir}` +
        `${playground ? " and spend calls on the playground model" : ""}; use the default 127.0.0.1 unless you mean it`,
    );
  }
  console.log(`adaptlm ui at ${running.url} (results: ${catalog.resultsDir})`);
  console.log(
    playground ? `playground model: ${playground.lm.model}` : "playground: no model (--model to enable)",
  );
  if (values.open) openInBrowser(running.url);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      running
        .close()
        .catch(() => undefined)
        .finally(() => {
          stack?.close();
          console.error("adaptlm ui stopped");
          resolve();
        });
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/** Best effort: a missing opener is not an error, the URL is printed anyway. */
function openInBrowser(url: string): void {
  const [program, args] =
    process.platform === "darwin"
      ? ["open", [url]]
      : process.platform === "win32"
        ? ["cmd", ["/c", "start", "", url]]
        : ["xdg-open", [url]];
  try {
    const child = spawn(program, args as string[], { stdio: "ignore", detached: true });
    child.on("error", () => console.error(`could not start ${program}: open ${url} yourself`));
    child.unref();
  } catch {
    console.error(`could not start ${program}: open ${url} yourself`);
  }
}

export const command: CliCommand = {
  summary: "local web app: browse and compare runs, try prompting strategies",
  help: uiHelp,
  run: runUiCommand,
};
