// The report end to end in the library: a results folder with two prompt runs and two real training runs is
// loaded and rendered; the HTML must show every run with its metric and interval, draw the expected number of
// data marks, escape run text, load nothing from outside, and keep API keys out.

import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { renderReportHtml } from "../../../src/eval/report/html-report.js";
import { loadReportInput } from "../../../src/eval/report/load-report-input.js";
import { secretsFromEnvironment } from "../../../src/eval/report/redact.js";
import type { ReportInput } from "../../../src/eval/report/report-input.js";
import { accuracyInterval } from "../../../src/train/bootstrap.js";
import {
  FAKE_API_KEY,
  MALICIOUS,
  type ResultsFolder,
  writeComparisonFolder,
  writeResultsFolder,
} from "./report-fixtures.js";
import { countMarks, figure } from "./svg-marks.js";

describe("HTML report of a results folder", () => {
  let folder: ResultsFolder;
  let input: ReportInput;
  let html: string;

  before(async () => {
    folder = writeResultsFolder();
    input = loadReportInput(folder.root, { title: "Sentiment study", maxExamples: 10 });
    process.env.ADAPTLM_TEST_OPENAI_API_KEY = FAKE_API_KEY;
    html = await renderReportHtml(input, { secrets: secretsFromEnvironment(process.env) });
    delete process.env.ADAPTLM_TEST_OPENAI_API_KEY;
  });

  test("every run is loaded; other folders are skipped with the reason", () => {
    assert.deepEqual(
      input.runs.map((r) => [r.id, r.kind, r.approach]),
      [
        ["prompt/few-shot", "prompt", "few-shot"],
        ["prompt/self-consistency", "prompt", "self-consistency"],
        ["train-bitfit", "train", "bitfit"],
        ["train-lora", "train", "lora"],
      ],
    );
    const skipped = new Map(input.skipped.map((s) => [s.path, s.reason]));
    assert.deepEqual([...skipped.keys()].sort(), ["broken", "notes"]);
    assert.match(skipped.get("broken") ?? "", /not valid JSON/);
    assert.match(skipped.get("notes") ?? "", /not a run folder/);
    assert.ok(html.includes("not a run folder"));
  });

  test("each run appears with its metric value, and the interval is the seeded bootstrap of its examples", () => {
    const fewShot = input.runs[0];
    assert.equal(fewShot?.metric?.value, 0.75);
    assert.equal(fewShot?.metric?.correct, 3);
    const expected = accuracyInterval([true, true, false, true], { samples: 1000, seed: 0 });
    assert.deepEqual(fewShot?.metric?.interval, { low: expected.low, high: expected.high, level: 0.95 });
    assert.ok(html.includes("75.0%"));
    const fmt = (v: number) => `${(100 * v).toFixed(1)}%`;
    assert.ok(html.includes(`[${fmt(expected.low)}, ${fmt(expected.high)}]`));
    // all correct: every resample is all correct
    assert.deepEqual(input.runs[1]?.metric?.interval, { low: 1, high: 1, level: 0.95 });
    assert.ok(html.includes("[100.0%, 100.0%]"));
    // the training runs: their last evaluation's accuracy, from eval_log.jsonl
    for (const run of input.runs.slice(2)) {
      assert.equal(run.metric?.name, "accuracy");
      assert.ok(html.includes(`${(100 * (run.metric?.value ?? Number.NaN)).toFixed(1)}%`));
      assert.ok((run.cost.trainableParameters ?? 0) > 0);
      assert.ok((run.cost.storedBytes ?? 0) > 0);
    }
    // without metered tokens, tokens per example are estimated from the text (and flagged)
    assert.equal(input.runs[0]?.cost.tokensEstimated, true);
    assert.ok(html.includes("≈"));
    // LoRA's train_run.json gives its options and seed
    assert.equal(input.runs[3]?.seed, 5);
    assert.equal(input.runs[3]?.model, "toy-bert");
  });

  test("the same folder and seed give the same intervals; another seed may differ but stays a valid interval", () => {
    const again = loadReportInput(folder.root, { title: "Sentiment study", maxExamples: 10 });
    assert.deepEqual(
      again.runs.map((r) => r.metric?.interval),
      input.runs.map((r) => r.metric?.interval),
    );
    const other = loadReportInput(folder.root, { seed: 99 });
    const interval = other.runs[0]?.metric?.interval;
    assert.ok(interval && interval.low <= 0.75 && 0.75 <= interval.high);
  });

  test("charts are inline SVGs with one data mark per value", () => {
    assert.equal((html.match(/<svg /g) ?? []).length, input.charts.length);
    // accuracy per run: 4 bars, 2 error bars (only prompt runs have per-example correctness), 4 labels
    const accuracy = figure(html, "Accuracy per run");
    assert.equal(countMarks(accuracy, "rect", "bar", "path"), 4);
    assert.equal(countMarks(accuracy, "rule", "error-bar", "line"), 2);
    assert.equal(countMarks(accuracy, "text", "bar-label", "text"), 4);
    assert.ok(accuracy.includes(">75.0%<") && accuracy.includes(">100.0%<"));
    // self-consistency agreement: categories 2/5, 3/5, 4/5, 5/5 x (correct, wrong)
    const votes = figure(html, "Votes for the chosen answer: prompt/self-consistency");
    assert.equal(countMarks(votes, "rect", "bar", "path"), 8);
    for (const category of ["2/5", "3/5", "4/5", "5/5"]) assert.ok(votes.includes(`>${category}<`), category);
    // training loss: one line (only LoRA recorded its step losses) with one symbol per step
    const lora = input.runs[3];
    const steps =
      lora?.kind === "train" ? input.charts.find((c) => c.title === "Training loss per step") : undefined;
    assert.ok(steps?.kind === "line");
    const loss = figure(html, "Training loss per step");
    assert.equal(countMarks(loss, "line", "line", "path"), 1);
    assert.equal(countMarks(loss, "symbol", "point", "path"), steps.series[0]?.points.length);
    // validation loss: both training runs
    assert.equal(countMarks(figure(html, "Validation loss"), "line", "line", "path"), 2);
    // Pareto plots: two specialists, two generalists, each labelled
    // (with the comparison's rows)
    const specialists = figure(html, "Specialists: metric vs trainable parameters");
    assert.equal(countMarks(specialists, "symbol", "point", "path"), 4);
    assert.ok(specialists.includes("lora (train-lora)"));
    const generalists = figure(html, "Generalists: accuracy vs tokens per example");
    assert.equal(countMarks(generalists, "symbol", "point", "path"), 3);
    assert.ok(generalists.includes(">few-shot:4<"));
  });

  test("a comparison written by adaptlm compare becomes a table with intervals and a bar chart", () => {
    assert.equal(input.tables.length, 1);
    const table = input.tables[0];
    assert.equal(table?.title, "Comparison: compare-sst2");
    assert.deepEqual(
      table?.rows.map((r) => r.slice(0, 4)),
      [
        ["lora", "fine-tuning", { value: 0.82, low: 0.7, high: 0.92, percent: true }, 12_345],
        ["bitfit", "fine-tuning", { value: 0.76, low: 0.64, high: 0.88, percent: true }, 1_100],
        ["few-shot:4", "prompting", { value: 0.7, low: 0.56, high: 0.82, percent: true }, 0],
        ["least-to-most", "prompting", "skipped: needs an answer task", null],
      ],
    );
    assert.ok(html.includes('82.0% <span class="meta">[70.0%, 92.0%]</span>'));
    assert.ok(html.includes("12,345"));
    const chart = figure(html, "Accuracy with 95% CI: compare-sst2");
    assert.equal(countMarks(chart, "rect", "bar", "path"), 3);
    assert.equal(countMarks(chart, "rule", "error-bar", "line"), 3);
  });

  test("the example browser shows prompts, outputs, votes and gold, HTML-escaped", () => {
    assert.ok(!html.includes(MALICIOUS));
    assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert.ok(!/<script/i.test(html), "the report has no script element at all");
    assert.ok(html.includes("Let&#39;s think step by step."));
    assert.ok(html.includes("prompt/self-consistency: first 5 of 5 example(s)"));
    assert.ok(html.includes("The answer is 12."));
    // the self-consistency prompt, sent once per path, is shown once
    assert.ok(html.includes('<p class="meta">sent 5 times</p><pre>Q: What is 0 + 10?'));
    assert.ok(
      html.includes("14: 2<br>100: 1<br>101: 1<br>102: 1"),
      "votes of the last self-consistency example",
    );
  });

  test("no external resource: no http(s) src/href, no @import, no url(http...)", () => {
    assert.doesNotMatch(html, /\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    assert.doesNotMatch(html, /@import/i);
    assert.doesNotMatch(html, /url\(\s*["']?\s*(https?:)?\/\//i);
    assert.doesNotMatch(html, /<link\b|<iframe\b|<img\b/i);
  });

  test("API keys and credentials never reach the report", () => {
    assert.ok(!html.includes(FAKE_API_KEY));
    assert.ok(!html.includes(FAKE_API_KEY.slice(0, 8)));
    assert.ok(!html.includes("hunter2pass"), "endpoint user info");
    assert.ok(!html.includes("api_key=abc"), "endpoint query");
    assert.ok(html.includes("https://api.example.com/v1"));
    assert.ok(html.includes("[REDACTED]"));
    // the model saw the key in its output: redacted there too
    assert.ok(html.includes("my key is [REDACTED]"));
  });

  test("the model is plain JSON: a saved input renders the same report", async () => {
    const copy = JSON.parse(JSON.stringify(input)) as ReportInput;
    const fixed = new Date("2026-01-01T00:00:00Z");
    assert.equal(
      await renderReportHtml(copy, { generatedAt: fixed }),
      await renderReportHtml(input, { generatedAt: fixed }),
    );
  });

  test("a single run folder is a report of that run", async () => {
    const single = loadReportInput(folder.selfConsistency);
    assert.deepEqual(
      single.runs.map((r) => r.id),
      ["self-consistency"],
    );
    assert.equal(single.skipped.length, 0);
    const page = await renderReportHtml(single);
    assert.ok(page.includes("100.0%"));
  });

  test("a missing folder and a folder without runs are clear errors", () => {
    assert.throws(() => loadReportInput(`${folder.root}/nope`), {
      code: "REPORT_SOURCE_MISSING",
      message: /does not exist/,
    });
    assert.throws(() => loadReportInput(`${folder.root}/notes`), { code: "REPORT_NOTHING_FOUND" });
  });
});

describe("HTML report of a comparison folder", () => {
  test("rows' artefacts: runs are linked to their row and plotted once; a bare adapter is skipped", async () => {
    const dir = writeComparisonFolder();
    const input = loadReportInput(dir);
    assert.deepEqual(
      input.runs.map((r) => [r.id, r.comparison]),
      [
        ["prompt/few-shot-4", "compare-run: few-shot:4"],
        ["train/lora", "compare-run: lora"],
      ],
    );
    assert.deepEqual(
      input.skipped.map((s) => s.path),
      ["adapters/bitfit"],
    );
    assert.match(input.skipped[0]?.reason ?? "", /the adapter of row "bitfit" of the comparison compare-run/);
    // metered tokens (usage.json) replace the estimate from text length
    assert.equal(input.runs[0]?.cost.tokensPerExample, 260);
    assert.equal(input.runs[0]?.cost.tokensEstimated, false);
    // the training run's test predictions give its accuracy, interval and example rows
    const lora = input.runs[1];
    const expected = accuracyInterval([true, false, true, true], { samples: 1000, seed: 0 });
    assert.deepEqual(lora?.metric, {
      name: "accuracy",
      value: 0.75,
      correct: 3,
      total: 4,
      interval: { low: expected.low, high: expected.high, level: 0.95 },
    });
    assert.deepEqual(
      input.examples.find((x) => x.runId === "train/lora")?.examples.map((x) => [x.id, x.answer, x.correct]),
      [
        ["t0", "pos", true],
        ["t1", "pos", false],
        ["t2", "neg", true],
        ["t3", MALICIOUS, true],
      ],
    );
    const html = await renderReportHtml(input);
    assert.ok(!html.includes(MALICIOUS));
    assert.ok(html.includes("a row of the comparison compare-run: lora"));
    // Pareto plots: the comparison's rows only (lora, bitfit; few-shot:4)
    const specialists = figure(html, "Specialists: metric vs trainable parameters");
    assert.equal(countMarks(specialists, "symbol", "point", "path"), 2);
    const generalists = figure(html, "Generalists: accuracy vs tokens per example");
    assert.equal(countMarks(generalists, "symbol", "point", "path"), 1);
  });
});
