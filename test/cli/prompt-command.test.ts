// `adaptlm prompt` end to end: the compiled CLI spawned against the fake OpenAI-compatible server with
// scripted answers; its output lines, the run folder it writes, and resume on a second run.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { makeTempDir } from "../io/temp-dir.js";
import { completionBody, type FakeServer, startFakeServer } from "../lm/fake-openai-server.js";
import { adaptlm } from "./run-cli.js";

const _cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

const dir = makeTempDir("prompt-command");
const taskFile = join(dir, "sentiment.jsonl");
const answers: Record<string, string> = {
  "great film": " positive",
  "awful plot": " negative",
  "loved it": " positive",
  "boring mess": " positive",
};
let server: FakeServer;

before(async () => {
  writeFileSync(
    taskFile,
    [
      { review: "great film", sentiment: "positive" },
      { review: "awful plot", sentiment: "negative" },
      { review: "loved it", sentiment: "positive" },
      { review: "boring mess", sentiment: "negative" },
    ]
      .map((record) => JSON.stringify(record))
      .join("\n"),
  );
  server = await startFakeServer((request) => {
    const inputs = [...String(request.body.prompt).matchAll(/Input: (.*)\n/g)].map((match) => match[1]);
    return { body: completionBody([answers[inputs[inputs.length - 1]] ?? " ?"]) };
  });
});
after(() => server.close());

describe("adaptlm prompt", () => {
  test("few-shot against a server: accuracy line, run folder, and a resumed second run that sends nothing", async () => {
    const out = join(dir, "run-few-shot");
    const args = [
      "prompt",
      server.baseUrl,
      "--model",
      "test-model",
      "--task",
      taskFile,
      "--input-field",
      "review",
      "--label-field",
      "sentiment",
      "--strategy",
      "few-shot",
      "--k",
      "2",
      "--method",
      "generation",
      "--out",
      out,
    ];
    const first = await adaptlm(args);
    assert.equal(first.code, 0, first.stderr);
    const lines = first.stdout.trim().split("\n");
    assert.equal(lines[lines.length - 1], "accuracy: 0.7500 (3/4)");
    assert.ok(lines.includes(`run: ${out}`), first.stdout);
    assert.ok(lines.includes("recorded 4 new example(s), 0 already recorded"), first.stdout);
    assert.match(first.stderr, /prompt few-shot \[#+\] 4\/4/);
    assert.equal(server.requests.length, 4);
    const recorded = readFileSync(join(out, "examples.jsonl"), "utf8").trim().split("\n");
    assert.equal(recorded.length, 4);
    const example = JSON.parse(recorded[3]);
    assert.equal(example.input, "boring mess");
    assert.equal(example.gold, "negative");
    assert.equal(example.answer, "positive");
    assert.equal(example.correct, false);
    assert.equal(example.prompts[0], server.requests[3].body.prompt);
    const run = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    assert.equal(run.endpoint, server.baseUrl);
    assert.equal(run.model, "test-model");
    assert.equal(run.strategy, "few-shot");
    assert.equal(run.metric.value, 0.75);

    const second = await adaptlm(args);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(server.requests.length, 4, "resume sends no request");
    const secondLines = second.stdout.trim().split("\n");
    assert.ok(secondLines.includes("recorded 0 new example(s), 4 already recorded"), second.stdout);
    assert.equal(secondLines[secondLines.length - 1], "accuracy: 0.7500 (3/4)");
    assert.equal(readFileSync(join(out, "examples.jsonl"), "utf8").trim().split("\n").length, 4);
  });

  test("usage errors: missing --task, unknown strategy, changed setup in the same folder", async () => {
    const noTask = await adaptlm(["prompt", server.baseUrl, "--model", "m", "--strategy", "cot"]);
    assert.equal(noTask.code, 1);
    assert.match(noTask.stderr, /prompt needs --task FILE/);
    const badStrategy = await adaptlm(["prompt", server.baseUrl, "--task", taskFile, "--strategy", "magic"]);
    assert.equal(badStrategy.code, 1);
    assert.match(badStrategy.stderr, /--strategy must be one of zero-shot, few-shot/);
    const out = join(dir, "run-mismatch");
    const base = ["prompt", server.baseUrl, "--model", "m", "--task", taskFile, "--input-field", "review"];
    const common = [...base, "--label-field", "sentiment", "--method", "generation", "--out", out];
    const requestsBefore = server.requests.length;
    const ok = await adaptlm([...common, "--strategy", "zero-shot"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(server.requests.length, requestsBefore + 4);
    const mismatch = await adaptlm([...common, "--strategy", "few-shot"]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /different setup/);
  });
});
