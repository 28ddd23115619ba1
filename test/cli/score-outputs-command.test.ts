// `adaptlm score-outputs` end to end: the compiled CLI over hand-written JSONL files; the accuracy line,
// counts, the weighted vote flipping a majority, and errors for malformed input.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { makeTempDir } from "../io/temp-dir.js";
import { adaptlm } from "./run-cli.js";

const _cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

const dir = makeTempDir("score-outputs");

function jsonl(name: string, records: unknown[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${records.map((record) => JSON.stringify(record)).join("\n")}\n`);
  return path;
}

function lastLine(text: string): string {
  const lines = text.trimEnd().split("\n");
  return lines[lines.length - 1];
}

describe("adaptlm score-outputs", () => {
  const gold = jsonl("gold.jsonl", [
    { id: 1, answer: "7" },
    { id: 2, answer: 1000 },
    { id: 3, answer: "13" },
    { id: 4, answer: "5" },
    { id: "q", answer: "5" },
    { id: "r", answer: "2" },
  ]);

  test("single outputs and samples: counts, notes, and accuracy as the last line", async () => {
    const outputs = jsonl("outputs.jsonl", [
      { id: 1, output: "3 + 4 = 7. The answer is 7." },
      { id: 2, output: "We get $1,000 in total." },
      { id: 3, output: "The answer is 12." },
      // a majority of 6 over 5: wrong under the majority vote
      { id: "q", outputs: ["The answer is 5.", "The answer is 6.", "So 6."] },
      { id: "r", output: "I cannot tell." },
      { id: 9, output: "stray" },
    ]);
    const run = await adaptlm([
      "score-outputs",
      "--outputs",
      outputs,
      "--gold",
      gold,
      "--answer-type",
      "number",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(lastLine(run.stdout), "accuracy: 33.33");
    assert.match(run.stdout, /note: number: commas and currency signs dropped/);
    assert.match(run.stdout, /unmatched output ids \(no gold answer, ignored\): 1 \("9"\)/);
    assert.match(run.stdout, /gold ids without outputs \(counted wrong\): 1 \("4"\)/);
    assert.match(run.stdout, /no extractable number answer \(counted wrong\): 1\n/);
    assert.match(run.stdout, /correct: 2\/6/);
  });

  test("the weighted vote flips a majority: three low-probability paths lose to one confident path", async () => {
    const outputs = jsonl("sampled.jsonl", [
      {
        id: "q",
        outputs: ["The answer is 5.", "The answer is 6.", "The answer is 6.", "The answer is 6."],
        // mean token logprob per sample (a number) or the token logprobs (an array)
        logprobs: [[-0.05, -0.05], -3, [-2.5, -3.5], -3],
      },
      { id: "r", outputs: ["The answer is 2.", "The answer is 3."], logprobs: [-0.1, -0.2] },
    ]);
    const goldSmall = jsonl("gold-small.jsonl", [
      { id: "q", answer: "5" },
      { id: "r", answer: "2" },
    ]);
    const base = ["score-outputs", "--outputs", outputs, "--gold", goldSmall, "--answer-type", "number"];
    const majority = await adaptlm(base);
    assert.equal(majority.code, 0, majority.stderr);
    // q: 6 wins 3-1 (wrong); r: a 1-1 tie goes to the larger weight, 2 (right)
    assert.equal(lastLine(majority.stdout), "accuracy: 50.00");
    const detailsFile = join(dir, "details.jsonl");
    const weighted = await adaptlm([...base, "--vote", "weighted", "--details", detailsFile]);
    assert.equal(weighted.code, 0, weighted.stderr);
    assert.equal(lastLine(weighted.stdout), "accuracy: 100.00");
    // exp(-0.05) = 0.951 for 5 against 3 exp(-3) = 0.149 for 6
    const details = readFileSync(detailsFile, "utf8")
      .trim()
      .split("\n")
      .map(
        (line) =>
          JSON.parse(line) as { id: string; predicted: string; votes: { answer: string; weight: number }[] },
      );
    assert.equal(details[0].predicted, "5");
    assert.deepEqual(
      details[0].votes.map((vote) => [vote.answer, Number(vote.weight.toFixed(4))]),
      [
        ["6", Number((3 * Math.exp(-3)).toFixed(4))],
        ["5", Number(Math.exp(-0.05).toFixed(4))],
      ],
    );
    const noLogprobs = jsonl("no-logprobs.jsonl", [{ id: "q", outputs: ["The answer is 5."] }]);
    const refused = await adaptlm([...base.slice(0, 2), noLogprobs, ...base.slice(3), "--vote", "weighted"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /weighted vote needs "logprobs"/);
  });

  test("choice and yes-no answers, a CSV task file as gold with --answer-field and --id-field", async () => {
    const task = join(dir, "task.csv");
    writeFileSync(task, "qid,question,label\na,Pick one,B\nb,Pick again,D\nc,Last,A\n");
    const outputs = jsonl("choices.jsonl", [
      { qid: "a", output: "Among the options, (B) fits. The answer is (B)." },
      { qid: "b", output: "The answer is C." },
      { qid: "c", output: "a) no; (A) is right" },
    ]);
    const run = await adaptlm([
      "score-outputs",
      "--outputs",
      outputs,
      "--gold",
      task,
      "--answer-type",
      "choice",
      "--id-field",
      "qid",
      "--answer-field",
      "label",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /note: choice:/);
    assert.equal(lastLine(run.stdout), "accuracy: 66.67");

    const yesNoGold = jsonl("yes-no-gold.jsonl", [
      { id: 1, answer: "yes" },
      { id: 2, answer: "no" },
    ]);
    const yesNo = jsonl("yes-no.jsonl", [
      { id: 1, output: "Yes, because... So the answer is yes." },
      { id: 2, output: "The answer is Yes." },
    ]);
    const yesNoRun = await adaptlm([
      "score-outputs",
      "--outputs",
      yesNo,
      "--gold",
      yesNoGold,
      "--answer-type",
      "yes-no",
    ]);
    assert.equal(yesNoRun.code, 0, yesNoRun.stderr);
    assert.equal(lastLine(yesNoRun.stdout), "accuracy: 50.00");
  });

  test("malformed input: bad JSON and bad records name the line; gold records without ids or answers", async () => {
    const broken = join(dir, "broken.jsonl");
    writeFileSync(broken, '{"id": 1, "output": "7"}\n\n{"id": 2, "output": \n');
    const badJson = await adaptlm([
      "score-outputs",
      "--outputs",
      broken,
      "--gold",
      gold,
      "--answer-type",
      "number",
    ]);
    assert.equal(badJson.code, 1);
    assert.match(badJson.stderr, /broken\.jsonl:3 is not valid JSON/);

    const noOutput = jsonl("no-output.jsonl", [
      { id: 1, output: "7" },
      { id: 2, text: "7" },
    ]);
    const shape = await adaptlm([
      "score-outputs",
      "--outputs",
      noOutput,
      "--gold",
      gold,
      "--answer-type",
      "number",
    ]);
    assert.equal(shape.code, 1);
    assert.match(shape.stderr, /no-output\.jsonl:2 needs "output" \(a string\) or "outputs"/);

    const noId = jsonl("no-id.jsonl", [{ output: "7" }]);
    const missingId = await adaptlm([
      "score-outputs",
      "--outputs",
      noId,
      "--gold",
      gold,
      "--answer-type",
      "number",
    ]);
    assert.equal(missingId.code, 1);
    assert.match(missingId.stderr, /no-id\.jsonl:1 has no "id"/);

    const goldNoId = jsonl("gold-no-id.jsonl", [{ id: 1, answer: "7" }, { answer: "8" }]);
    const ok = jsonl("ok.jsonl", [{ id: 1, output: "7" }]);
    const goldMissingId = await adaptlm([
      "score-outputs",
      "--outputs",
      ok,
      "--gold",
      goldNoId,
      "--answer-type",
      "number",
    ]);
    assert.equal(goldMissingId.code, 1);
    assert.match(goldMissingId.stderr, /gold-no-id\.jsonl: record 2 has no "id"/);

    const goldNoAnswer = jsonl("gold-no-answer.jsonl", [{ id: 1, label: "7" }]);
    const missingAnswer = await adaptlm([
      "score-outputs",
      "--outputs",
      ok,
      "--gold",
      goldNoAnswer,
      "--answer-type",
      "number",
    ]);
    assert.equal(missingAnswer.code, 1);
    assert.match(missingAnswer.stderr, /has no "answer".*--answer-field/);

    const badType = await adaptlm([
      "score-outputs",
      "--outputs",
      ok,
      "--gold",
      gold,
      "--answer-type",
      "date",
    ]);
    assert.equal(badType.code, 1);
    assert.match(badType.stderr, /--answer-type must be one of number, choice, yes-no, text/);
  });
});
