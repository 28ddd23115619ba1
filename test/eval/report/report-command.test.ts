// `adaptlm report` run as a user runs it (spawning the compiled CLI): it writes the HTML file, prints its
// path and a one-line summary, keeps an API key from the environment out of the file, and fails with a clear
// message and exit code 1 on a folder that does not exist.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { checkReportInput } from "../../../src/eval/report/report-input.js";
import { adaptlm } from "../../cli/run-cli.js";
import { FAKE_API_KEY, writeResultsFolder } from "./report-fixtures.js";

const _cli = fileURLToPath(new URL("../../../src/cli/main.js", import.meta.url));

describe("adaptlm report", () => {
  test("writes the report atomically, prints its path and a summary; the key in the environment stays out", async () => {
    const folder = writeResultsFolder();
    const out = join(dirname(folder.root), "reports", "study.html");
    const saved = join(dirname(folder.root), "input.json");
    const run = await adaptlm(
      [
        "report",
        folder.root,
        "--out",
        out,
        "--title",
        "Study <1>",
        "--max-examples",
        "2",
        "--save-input",
        saved,
      ],
      { env: { OPENAI_API_KEY: FAKE_API_KEY } },
    );
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split("\n");
    assert.equal(lines[0], out);
    assert.match(
      lines[1] ?? "",
      /^report: 4 run\(s\) \(2 prompting, 2 fine-tuning\), 1 comparison table\(s\), \d+ chart\(s\), 2 skipped; best: prompt\/self-consistency 100\.0% accuracy$/,
    );
    const html = readFileSync(out, "utf8");
    assert.ok(html.startsWith("<!doctype html>"));
    assert.ok(html.includes("<title>Study &lt;1&gt;</title>"));
    assert.ok(html.includes("prompt/few-shot: first 2 of 4 example(s)"));
    assert.ok(!html.includes(FAKE_API_KEY));
    // no temporary file of the atomic write is left behind
    assert.deepEqual(
      readdirSync(dirname(out)).filter((f) => f.endsWith(".tmp")),
      [],
    );
    // the saved input is a versioned report model that renders again
    const savedText = readFileSync(saved, "utf8");
    assert.ok(!savedText.includes(FAKE_API_KEY), "the saved input is redacted too");
    const input = checkReportInput(JSON.parse(savedText));
    assert.equal(input.runs.length, 4);
    const again = await adaptlm(["report", saved, "--out", join(dirname(folder.root), "again.html")]);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(existsSync(join(dirname(folder.root), "again.html")));
  });

  test("a folder that does not exist: a clear error and exit code 1", async () => {
    const run = await adaptlm(["report", "/nonexistent/results-folder"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^adaptlm: \/nonexistent\/results-folder does not exist: give a results folder/);
  });

  test("usage errors and --help", async () => {
    const none = await adaptlm(["report"]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /report needs exactly one results folder or run folder/);
    const bad = await adaptlm(["report", ".", "--max-examples", "many"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--max-examples must be an integer >= 0, got "many"/);
    const help = await adaptlm(["report", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--max-examples N/);
  });
});
