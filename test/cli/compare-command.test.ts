// End to end: `adaptlm compare` as a user runs it (spawning the compiled CLI) with a tiny random BERT for the
// method rows and the real stories260K llama2.c model (local engine) for the strategy rows, on a toy task
// folder: the aligned table on stdout, compare.json on disk, --json, --resume, and usage errors.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { CompareReport } from "../../src/eval/compare.js";
import { sharedPath } from "../io/shared-paths.js";
import { makeTempDir } from "../io/temp-dir.js";
import { completionBody, startFakeServer } from "../lm/fake-openai-server.js";
import { writeTinyBertFolder } from "../models/model-fixtures.js";
import { adaptlm } from "./run-cli.js";

const _cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function writeTask(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const subjects = ["the movie was", "this book is", "our dinner felt", "that song sounds"];
  const lines = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        text: `${subjects[i % 4]} ${i % 2 ? "awful" : "great"}`,
        label: i % 2 ? "neg" : "pos",
      }),
    ).join("\n");
  writeFileSync(join(dir, "train.jsonl"), `${lines(16)}\n`);
  writeFileSync(join(dir, "test.jsonl"), `${lines(12)}\n`);
}

describe("adaptlm compare", () => {
  const encoder = writeTinyBertFolder({ mlmHead: false });
  const root = makeTempDir("compare-cli");
  const task = join(root, "task");
  writeTask(task);
  const lm = ["--lm", sharedPath("models/stories260K/stories260K.bin")];
  lm.push("--tokenizer", sharedPath("models/stories260K/tok512.bin"));
  const out = join(root, "run");
  const base = [
    "compare",
    "--task",
    task,
    "--encoder",
    encoder,
    ...lm,
    "--max-steps",
    "4",
    "--batch-size",
    "8",
  ];

  test("prints the table, writes compare.json, resumes with --resume", async () => {
    const run = await adaptlm([
      ...base,
      "--methods",
      "lora",
      "--strategies",
      "zero-shot,least-to-most",
      "--price-in",
      "1",
      "--price-out",
      "2",
      "--out",
      out,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(readFileSync(join(out, "compare.json"), "utf8")) as CompareReport;
    assert.equal(report.version, 1);
    assert.deepEqual(
      report.rows.map((r) => [r.name, r.status]),
      [
        ["lora", "done"],
        ["zero-shot", "done"],
        ["least-to-most", "skipped"],
      ],
    );
    const lines = run.stdout.split("\n");
    assert.match(
      lines[0] ?? "",
      /^row\s+kind\s+accuracy\s+95% CI\s+n\s+trainable\s+stored\s+train s\s+tok\/ex\s+ms\/ex\s+\$ total\s+note$/,
    );
    assert.match(lines[1] ?? "", /^-+( +-+)+$/);
    for (const row of report.rows.filter((r) => r.metric)) {
      const m = row.metric as NonNullable<typeof row.metric>;
      const line = lines.find((l) => l.startsWith(`${row.name} `)) ?? "";
      assert.ok(line.includes(`${(100 * m.value).toFixed(1)}%`), line);
      assert.ok(line.includes(`${m.correct}/${m.total}`), line);
    }
    assert.match(
      run.stdout,
      /least-to-most\s+strategy(\s+-)+\s+skipped: no train example has a decomposition/,
    );
    // Every column starts at the same offset on every line: the table is aligned.
    const kindColumn = lines[0]?.indexOf("kind");
    for (const line of lines.slice(2, 5)) assert.match(line.slice(kindColumn), /^(method|strategy)/);
    assert.match(run.stderr, /\[1\/3\] method lora: accuracy \d+\.\d% \[/);
    assert.ok(report.rows[1]?.tokensPerExample && report.rows[1].tokensPerExample > 0);
    assert.ok((report.rows[1]?.cost ?? 0) > 0);

    const again = await adaptlm([...base, "--methods", "lora", "--strategies", "zero-shot", "--out", out]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds a comparison .*--resume/);

    const resumed = await adaptlm([
      ...base,
      "--methods",
      "lora",
      "--strategies",
      "zero-shot,least-to-most,few-shot:2",
      "--price-in",
      "1",
      "--price-out",
      "2",
      "--out",
      out,
      "--resume",
      "--json",
    ]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /\[1\/4\] method lora: finished before, kept/);
    assert.match(resumed.stderr, /\[2\/4\] strategy zero-shot: finished before, kept/);
    assert.ok(!/train lora/.test(resumed.stderr), "lora is not trained again");
    const printed = JSON.parse(resumed.stdout) as CompareReport;
    assert.deepEqual(printed, JSON.parse(readFileSync(join(out, "compare.json"), "utf8")));
    assert.deepEqual(printed.rows.slice(0, 3), report.rows);
    assert.equal(printed.rows[3]?.name, "few-shot:2");
    assert.equal(printed.rows[3]?.metric?.total, 12);
  });

  test("usage errors name what is missing or valid", async () => {
    const none = await adaptlm(["compare", "--task", task]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /needs --encoder .* and\/or --lm/);
    const strategy = await adaptlm([
      "compare",
      "--task",
      task,
      ...lm,
      "--strategies",
      "tot",
      "--out",
      join(root, "x"),
    ]);
    assert.equal(strategy.code, 1);
    assert.match(
      strategy.stderr,
      /unknown strategy "tot": valid strategies are zero-shot, instructions, few-shot/,
    );
    const method = await adaptlm([
      "compare",
      "--task",
      task,
      "--encoder",
      encoder,
      "--methods",
      "qlora",
      "--out",
      join(root, "y"),
    ]);
    assert.equal(method.code, 1);
    assert.match(method.stderr, /unknown method "qlora": valid methods are full, bitfit/);
    const endpoint = await adaptlm(["compare", "--task", task, "--endpoint", "http://127.0.0.1:1/v1"]);
    assert.match(endpoint.stderr, /--endpoint needs --model/);
  });

  test("--endpoint: a served model's tokens and money per row, from the server's usage; two servers share the load", async () => {
    // Generation-only servers (ollama preset): answer from the query's keyword, 5 prompt + 3 completion tokens.
    const answer = (request: { body: Record<string, unknown> }) => {
      const prompt = String(request.body.prompt ?? "");
      const query =
        prompt
          .split("\n")
          .filter((l) => l.startsWith("Input: "))
          .at(-1) ?? "";
      return { body: completionBody([query.includes("great") ? " pos" : " neg"]) };
    };
    const server = await startFakeServer(answer);
    const second = await startFakeServer(answer);
    try {
      const dir = join(root, "served");
      const run = await adaptlm([
        "compare",
        "--task",
        task,
        "--endpoint",
        server.baseUrl,
        "--endpoint",
        second.baseUrl,
        "--model",
        "toy-served",
        "--server",
        "ollama",
        "--strategies",
        "zero-shot",
        "--price-in",
        "1",
        "--price-out",
        "2",
        "--out",
        dir,
      ]);
      assert.equal(run.code, 0, run.stderr);
      const report = JSON.parse(readFileSync(join(dir, "compare.json"), "utf8")) as CompareReport;
      assert.deepEqual(report.setup.lm?.endpoint, `${server.baseUrl},${second.baseUrl}`);
      assert.equal(report.setup.lm?.model, "toy-served");
      const [row] = report.rows;
      assert.equal(server.requests.length + second.requests.length, 12, "one request per test example");
      assert.ok(server.requests.length > 0 && second.requests.length > 0, "both servers answered");
      assert.equal(row?.metric?.correct, 12);
      assert.equal(row?.promptTokensPerExample, 5);
      assert.equal(row?.completionTokensPerExample, 3);
      assert.equal(row?.tokensPerExample, 8);
      assert.ok(Math.abs((row?.cost as number) - (12 * (5 * 1 + 3 * 2)) / 1e6) < 1e-12, String(row?.cost));
    } finally {
      await server.close();
      await second.close();
    }
  });
});
