// The HTML report: one self-contained file (styles inline, charts as inline SVG, no script, no external
// resource), so it opens offline and can be mailed or archived as is. Sections: the runs with their metric
// and bootstrap interval, comparison tables, charts, the setup of each run, a collapsible example browser per
// run (native <details>, no JavaScript), and what the loader skipped. Every piece of text from a run is
// HTML-escaped, and secrets are replaced before anything is written (redact.ts).

import { redactSecrets } from "../../lm/api-key.js";
import { chartSpec, formatChartValue, renderSvg } from "./charts.js";
import { redactDeep } from "./redact.js";
import {
  checkReportInput,
  type ReportCell,
  type ReportChart,
  type ReportExample,
  type ReportExampleSection,
  type ReportInput,
  type ReportRun,
  type ReportTable,
} from "./report-input.js";

export interface RenderReportOptions {
  /** Strings replaced by [REDACTED] wherever they appear (e.g. secretsFromEnvironment(process.env)). */
  secrets?: readonly string[];
  /** Shown in the header; default: now. */
  generatedAt?: Date;
}

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const e = escapeHtml;

export function formatPercent(fraction: number): string {
  return `${(100 * fraction).toFixed(1)}%`;
}

export function formatCount(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString("en-US") : formatChartValue(value, false);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; margin: 0 auto;
  max-width: 1200px; padding: 0 24px 48px; }
h1 { font-size: 24px; margin: 24px 0 4px; } h2 { font-size: 19px; margin-top: 36px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: #666; margin: 0 0 12px; } nav a { margin-right: 14px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 16px 0; } figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 12px; }
details { margin: 6px 0; } summary { cursor: pointer; font-weight: 600; }
pre { white-space: pre-wrap; word-break: break-word; background: #f7f7f9; padding: 6px 8px; margin: 4px 0;
  max-height: 320px; overflow: auto; font-size: 12px; }
.ok { color: #0a7a28; font-weight: 600; } .bad { color: #b3261e; font-weight: 600; }
.note { color: #8a5300; font-size: 12px; } .error { color: #b3261e; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; } dt { color: #666; } dd { margin: 0; }
`;

/** The report as one HTML document. */
export async function renderReportHtml(
  reportInput: ReportInput,
  options: RenderReportOptions = {},
): Promise<string> {
  const secrets = options.secrets ?? [];
  const input = redactDeep(checkReportInput(reportInput), secrets);
  const generatedAt = (options.generatedAt ?? new Date()).toISOString();
  const parts: string[] = [];
  parts.push(
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${e(input.title)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    `<h1>${e(input.title)}</h1>`,
    `<p class="meta">from ${e(input.source)} · ${input.runs.length} run(s), ${input.tables.length} comparison table(s) · generated ${e(generatedAt)} by adaptlm</p>`,
    '<nav><a href="#runs">runs</a><a href="#comparisons">comparisons</a><a href="#charts">charts</a>' +
      '<a href="#setup">setup</a><a href="#examples">examples</a><a href="#skipped">skipped</a></nav>',
  );
  parts.push('<section id="runs">', "<h2>Runs</h2>", runsTable(input.runs), "</section>");
  parts.push('<section id="comparisons">', "<h2>Comparisons</h2>");
  if (input.tables.length === 0) parts.push("<p>No comparison table (adaptlm compare writes one).</p>");
  for (const table of input.tables) parts.push(comparisonTable(table));
  parts.push("</section>");
  parts.push('<section id="charts">', "<h2>Charts</h2>");
  if (input.charts.length === 0) parts.push("<p>Nothing to plot.</p>");
  for (const chart of input.charts) parts.push(await chartFigure(chart));
  parts.push("</section>");
  parts.push('<section id="setup">', "<h2>Setup of each run</h2>");
  // open when there are few runs; a long list starts folded so the page stays readable
  for (const run of input.runs) parts.push(runSetup(run, input.runs.length <= 6));
  parts.push("</section>");
  parts.push('<section id="examples">', "<h2>Examples</h2>");
  if (input.examples.length === 0) parts.push("<p>No run recorded examples.</p>");
  for (const section of input.examples) parts.push(exampleSection(section));
  parts.push("</section>");
  parts.push('<section id="skipped">', "<h2>Skipped</h2>");
  if (input.skipped.length === 0) parts.push("<p>Nothing was skipped.</p>");
  else {
    parts.push("<table><tr><th>path</th><th>reason</th></tr>");
    for (const s of input.skipped) parts.push(`<tr><td>${e(s.path)}</td><td>${e(s.reason)}</td></tr>`);
    parts.push("</table>");
  }
  parts.push("</section>", "</body>", "</html>", "");
  // A last pass over the whole document: anything that slipped through (e.g. a secret split across fields
  // that met again in a label) is still replaced.
  return redactSecrets(
    parts.join("\n"),
    secrets.filter((s) => s.length >= 8),
  );
}

function num(text: string): string {
  return `<td class="num">${text}</td>`;
}

function metricText(run: ReportRun): string {
  const m = run.metric;
  if (!m) return "–";
  const isRate = m.value >= 0 && m.value <= 1;
  return isRate ? formatPercent(m.value) : formatChartValue(m.value, false);
}

function intervalText(run: ReportRun): string {
  const interval = run.metric?.interval;
  if (!interval) return "–";
  return `[${formatPercent(interval.low)}, ${formatPercent(interval.high)}]`;
}

function runsTable(runs: readonly ReportRun[]): string {
  if (runs.length === 0) return "<p>No run found.</p>";
  const rows = runs.map((run) => {
    const m = run.metric;
    const c = run.cost;
    const tokens =
      c.tokensPerExample === undefined
        ? "–"
        : `${c.tokensEstimated ? "≈" : ""}${formatCount(Math.round(c.tokensPerExample))}`;
    return (
      "<tr>" +
      `<td><a href="#run-${e(anchor(run.id))}">${e(run.id)}</a></td>` +
      `<td>${run.kind === "train" ? "fine-tuning" : run.kind === "prompt" ? "prompting" : e(run.kind)}</td>` +
      `<td>${e(run.model)}</td><td>${e(run.task)}</td><td>${e(run.approach)}</td>` +
      `<td>${e(m?.name ?? "–")}</td>` +
      num(e(metricText(run))) +
      num(e(intervalText(run))) +
      num(m?.total !== undefined ? `${m.correct !== undefined ? `${m.correct}/` : ""}${m.total}` : "–") +
      num(c.trainableParameters !== undefined ? formatCount(c.trainableParameters) : "–") +
      num(c.percentOfBase !== undefined ? `${c.percentOfBase.toPrecision(3)}%` : "–") +
      num(c.storedBytes !== undefined ? formatBytes(c.storedBytes) : "–") +
      num(tokens) +
      `<td class="note">${[...(run.comparison ? [`a row of the comparison ${run.comparison}`] : []), ...(run.notes ?? [])].map(e).join("<br>")}</td>` +
      "</tr>"
    );
  });
  return (
    "<table><tr><th>run</th><th>kind</th><th>model</th><th>task</th><th>strategy / method</th><th>metric</th>" +
    "<th>value</th><th>95% CI</th><th>n</th><th>trainable params</th><th>% of base</th><th>stored</th>" +
    `<th>tokens / example</th><th>notes</th></tr>${rows.join("")}</table>` +
    '<p class="meta">CI: percentile bootstrap over the examples (seeded, so the same runs give the same ' +
    "interval). ≈: estimated as characters / 4 where the run did not record token counts.</p>"
  );
}

function cellHtml(cell: ReportCell): string {
  if (cell === null) return "<td>–</td>";
  if (typeof cell === "number") return num(e(formatCount(cell)));
  if (typeof cell === "string") return `<td>${e(cell)}</td>`;
  const f = (v: number) => (cell.percent ? formatPercent(v) : formatChartValue(v, false));
  return num(`${e(f(cell.value))} <span class="meta">[${e(f(cell.low))}, ${e(f(cell.high))}]</span>`);
}

function comparisonTable(table: ReportTable): string {
  const head = table.columns.map((c) => `<th>${e(c)}</th>`).join("");
  const rows = table.rows.map((row) => `<tr>${row.map(cellHtml).join("")}</tr>`).join("");
  return (
    `<h3>${e(table.title)}</h3>` +
    (table.source ? `<p class="meta">${e(table.source)}</p>` : "") +
    `<table><tr>${head}</tr>${rows}</table>` +
    (table.note ? `<p class="note">${e(table.note)}</p>` : "")
  );
}

async function chartFigure(chart: ReportChart): Promise<string> {
  try {
    const svg = await renderSvg(chartSpec(chart));
    return `<figure>${svg}<figcaption>${e(chart.title)}</figcaption></figure>`;
  } catch (error) {
    return `<p class="error">The chart "${e(chart.title)}" could not be drawn: ${e((error as Error).message)}</p>`;
  }
}

/** An id attribute from a run id (any characters). */
function anchor(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, "_");
}

function runSetup(run: ReportRun, open: boolean): string {
  const rows: Array<[string, string]> = [
    ["kind", run.kind],
    ["folder", run.path],
    ["model", run.model],
  ];
  if (run.endpoint) rows.push(["endpoint", run.endpoint]);
  rows.push(["task", run.task], [run.kind === "train" ? "method" : "strategy", run.approach]);
  if (run.seed !== undefined) rows.push(["seed", String(run.seed)]);
  if (run.startedAt) rows.push(["started", run.startedAt]);
  if (run.finishedAt) rows.push(["finished", run.finishedAt]);
  if (run.cost.seconds !== undefined) rows.push(["seconds", run.cost.seconds.toFixed(1)]);
  if (run.cost.callsPerExample !== undefined)
    rows.push(["model calls / example", formatChartValue(run.cost.callsPerExample, false)]);
  const dl = rows.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join("");
  const options =
    Object.keys(run.options).length > 0
      ? `<pre>${e(JSON.stringify(run.options, null, 2))}</pre>`
      : "<p>no options recorded</p>";
  return (
    `<details id="run-${e(anchor(run.id))}"${open ? " open" : ""}><summary>${e(run.id)}</summary>` +
    `<dl>${dl}</dl><h3>options</h3>${options}</details>`
  );
}

function texts(items: readonly (string | null)[], what: string): string {
  if (items.length === 0) return "–";
  if (items.length === 1) return `<pre>${e(items[0] ?? "(none)")}</pre>`;
  // self-consistency sends one prompt several times: show it once
  if (items.every((t) => t === items[0]))
    return `<p class="meta">sent ${items.length} times</p><pre>${e(items[0] ?? "(none)")}</pre>`;
  return (
    `<details><summary>${items.length} ${e(what)}</summary>` +
    items.map((t, i) => `<pre>${i + 1}. ${e(t ?? "(none)")}</pre>`).join("") +
    "</details>"
  );
}

function exampleRow(example: ReportExample): string {
  const votes = example.votes?.length
    ? example.votes.map((v) => `${e(v.answer)}: ${v.count}`).join("<br>")
    : "–";
  const answers = example.answers.length > 1 ? example.answers.map((a) => e(a ?? "(none)")).join(", ") : "";
  return (
    "<tr>" +
    num(String(example.index)) +
    `<td>${e(example.id)}</td>` +
    `<td>${example.input === "" ? "–" : `<pre>${e(example.input)}</pre>`}</td>` +
    `<td>${texts(example.prompts, "prompts")}</td>` +
    `<td>${texts(example.outputs, "raw outputs")}</td>` +
    `<td>${answers || "–"}</td>` +
    `<td>${votes}</td>` +
    `<td>${e(example.answer ?? "(none)")}</td>` +
    `<td>${e(example.gold)}</td>` +
    `<td class="${example.correct ? "ok" : "bad"}">${example.correct ? "yes" : "no"}</td>` +
    "</tr>"
  );
}

function exampleSection(section: ReportExampleSection): string {
  const shown = section.examples.length;
  const correct = section.examples.filter((x) => x.correct).length;
  const head =
    "<tr><th>#</th><th>id</th><th>input</th><th>prompt</th><th>raw output</th><th>extracted answers</th>" +
    "<th>votes</th><th>answer</th><th>gold</th><th>correct</th></tr>";
  return (
    `<details><summary>${e(section.runId)}: first ${shown} of ${section.total} example(s), ${correct} of those correct</summary>` +
    (shown === 0
      ? "<p>No example recorded.</p>"
      : `<table>${head}${section.examples.map(exampleRow).join("")}</table>`) +
    "</details>"
  );
}
