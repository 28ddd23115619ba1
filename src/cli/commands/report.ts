// `adaptlm report <results folder | run folder>`: one self-contained HTML file with the runs, their metrics
// with bootstrap intervals, comparison tables, charts and an example browser. Argument parsing and printing
// only; the work is src/eval/report/.

import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { renderReportHtml } from "../../eval/report/html-report.js";
import { loadReportInput } from "../../eval/report/load-report-input.js";
import { redactDeep, secretsFromEnvironment } from "../../eval/report/redact.js";
import type { ReportInput } from "../../eval/report/report-input.js";
import { writeFileAtomic } from "../../io/atomic-file.js";
import type { CliCommand } from "../command.js";
import { CliUsageError, numberOption } from "./pull.js";

export const reportHelp = `adaptlm report <results folder | run folder> [--out FILE] [--title T] [--max-examples N]

Writes one self-contained HTML report (inline styles and SVG charts: no script, no network,
opens offline) about every run found in the folder, searched a few levels deep:
  prompt runs      folders with run.json + examples.jsonl (adaptlm prompt)
  train runs       folders with eval_log.jsonl / adapter/ / model/ (adaptlm train)
  adapter folders  adapter_config.json + adapter_model.safetensors (cost only)
  comparisons      compare.json (adaptlm compare)
Folders that are none of these are listed under "Skipped" with the reason.

The report holds: a table of runs (model, task, strategy or method, accuracy with a seeded
95% percentile-bootstrap interval over the examples, trainable parameters, bytes stored,
tokens per example), the comparison tables, charts (training and validation loss, accuracy
per run with error bars, self-consistency vote agreement, Pareto plots of accuracy vs
trainable parameters and vs tokens per example), each run's setup and options, and a
collapsible browser of the first examples of each prompt run (input, prompts, raw outputs,
extracted answers, votes, gold, correct).

API keys never reach the report: option keys naming credentials are redacted, endpoints
lose user info and query strings, and the values of credential-like environment variables
(*KEY*, *TOKEN*, *SECRET*, ...) are replaced wherever they appear.

Options:
  --out FILE          where to write (default <folder>/report.html; folders are created);
                      written atomically
  --title T           the report's title (default "adaptlm report: <folder name>")
  --max-examples N    examples shown per run (default 20; 0 hides the examples)
  --bootstrap N       bootstrap resamples (default 1000)
  --seed N            bootstrap seed (default 0)
  --save-input FILE   also write the report's data (versioned JSON, see
                      src/eval/report/report-input.ts); \`adaptlm report FILE.json\` renders it
`;

export async function runReportCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      out: { type: "string" },
      title: { type: "string" },
      "max-examples": { type: "string" },
      bootstrap: { type: "string" },
      seed: { type: "string" },
      "save-input": { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1)
    throw new CliUsageError(
      `report needs exactly one results folder or run folder, got ${positionals.length}: adaptlm report runs/ --out report.html`,
    );
  const source = positionals[0] as string;
  const maxExamples = numberOption(values, "max-examples", { integer: true, min: 0 });
  const samples = numberOption(values, "bootstrap", { integer: true, min: 1 });
  const seed = numberOption(values, "seed", { integer: true, min: 0 });
  const input = loadReportInput(source, {
    ...(values.title !== undefined ? { title: values.title } : {}),
    ...(maxExamples !== undefined ? { maxExamples } : {}),
    ...(samples !== undefined ? { bootstrapSamples: samples } : {}),
    ...(seed !== undefined ? { seed } : {}),
  });
  const out =
    values.out ??
    (existsSync(source) && statSync(source).isDirectory()
      ? join(source, "report.html")
      : join(dirname(source), "report.html"));
  const secrets = secretsFromEnvironment(process.env);
  const html = await renderReportHtml(input, { secrets });
  mkdirSync(dirname(resolve(out)), { recursive: true });
  writeFileAtomic(out, html);
  if (values["save-input"] !== undefined)
    writeFileAtomic(values["save-input"], `${JSON.stringify(redactDeep(input, secrets), null, 2)}\n`);
  console.log(resolve(out));
  console.log(summaryLine(input));
}

/** e.g. "3 runs (2 prompting, 1 fine-tuning), 1 comparison table, 6 charts, 1 skipped; best: a 75.0% accuracy". */
export function summaryLine(input: ReportInput): string {
  const prompting = input.runs.filter((r) => r.kind === "prompt").length;
  const training = input.runs.filter((r) => r.kind === "train").length;
  const parts = [
    `${input.runs.length} run(s) (${prompting} prompting, ${training} fine-tuning)`,
    `${input.tables.length} comparison table(s)`,
    `${input.charts.length} chart(s)`,
    `${input.skipped.length} skipped`,
  ];
  const scored = input.runs.filter((r) => r.metric?.name === "accuracy");
  let best = "";
  if (scored.length > 0) {
    const top = scored.reduce((a, b) => ((b.metric?.value ?? 0) > (a.metric?.value ?? 0) ? b : a));
    best = `; best: ${top.id} ${(100 * (top.metric?.value ?? 0)).toFixed(1)}% accuracy`;
  }
  return `report: ${parts.join(", ")}${best}`;
}

export const command: CliCommand = {
  summary: "a self-contained HTML report (tables, charts, examples) of the runs in a folder",
  help: reportHelp,
  run: runReportCommand,
};
