// `adaptlm ape` and `adaptlm rl-prompt` end to end: the compiled CLI against the fake OpenAI-compatible
// server with scripted answers; the found prompt, the scored candidates / reward curve in --out, and the cost
// (LM calls, tokens) equal to what the server saw.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { makeTempDir } from "../io/temp-dir.js";
import { completionBody, type FakeServer, startFakeServer } from "../lm/fake-openai-server.js";
import { adaptlm } from "./run-cli.js";

const _cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

const dir = makeTempDir("search-commands");
const antonyms: Record<string, string> = {
  hot: "cold",
  big: "small",
  up: "down",
  wet: "dry",
  fast: "slow",
  light: "dark",
};
const positive = new Set(["loved it", "great"]);
const inducedInstructions = [
  " Write the antonym of the word.",
  " Repeat the word.",
  ' "Write the antonym of the word."',
  " Say hello.",
];
let server: FakeServer;

before(async () => {
  server = await startFakeServer((request) => {
    const prompt = String(request.body.prompt);
    const n = Number(request.body.n ?? 1);
    if (prompt.startsWith("I gave a friend"))
      return { body: completionBody(inducedInstructions.slice(0, n)) };
    const evaluation = /^Instruction: (.*)\n\nInput: (.*)\nOutput:$/.exec(prompt);
    if (evaluation) {
      const [, instruction, input] = evaluation;
      const answer = instruction.includes("antonym")
        ? antonyms[input]
        : instruction.includes("Repeat")
          ? input
          : "hello";
      return { body: completionBody([` ${answer}`]) };
    }
    // the RL task model: right only when the prompt mentions "sentiment", else always positive
    const classification = /^(.*)\nInput: (.*)\nLabel:$/.exec(prompt);
    if (classification) {
      const [, words, input] = classification;
      const right = positive.has(input) ? " positive" : " negative";
      return { body: completionBody([words.split(" ").includes("sentiment") ? right : " positive"]) };
    }
    return { status: 400, body: { error: { message: `unexpected prompt ${prompt}` } } };
  });
});
after(() => server.close());

describe("adaptlm ape / rl-prompt", () => {
  test("ape: induces, scores on dev pairs, writes candidates with scores and the cost", async () => {
    const task = join(dir, "antonyms.jsonl");
    writeFileSync(
      task,
      Object.entries(antonyms)
        .map(([word, antonym]) => JSON.stringify({ word, antonym }))
        .join("\n"),
    );
    const out = join(dir, "ape.json");
    const before = server.requests.length;
    const run = await adaptlm([
      "ape",
      "--endpoint",
      server.baseUrl,
      "--model",
      "test-model",
      "--task",
      task,
      "--input-field",
      "word",
      "--label-field",
      "antonym",
      "--seed",
      "3",
      "--out",
      out,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /best \(execution 1\.0000\): Write the antonym of the word\./);
    assert.match(run.stdout, /^rank\s+score\s+round\s+instruction$/m);
    const report = JSON.parse(readFileSync(out, "utf8")) as {
      best: { instruction: string; score: number };
      candidates: { instruction: string; score: number; round: number }[];
      options: { demonstrations: number; dev: number };
      seed: number;
      cost: { lmCalls: number; promptTokens: number; completionTokens: number; totalTokens: number };
    };
    assert.equal(report.best.instruction, "Write the antonym of the word.");
    assert.deepEqual(
      report.candidates.map((candidate) => [candidate.instruction, candidate.score, candidate.round]),
      [
        ["Write the antonym of the word.", 1, 0],
        ["Repeat the word.", 0, 0],
        ["Say hello.", 0, 0],
      ],
    );
    assert.deepEqual([report.options.demonstrations, report.options.dev, report.seed], [3, 3, 3]);
    // 2 induction requests (n = 4 each) + 3 distinct candidates x 3 dev pairs
    const sent = server.requests.length - before;
    assert.equal(sent, 11);
    assert.deepEqual(report.cost, {
      lmCalls: 11,
      promptTokens: 55,
      completionTokens: 33,
      totalTokens: 88,
      cost: 0,
    });
    assert.match(run.stdout, /cost: 11 LM calls, 55 prompt \+ 33 completion tokens \(88 total\)/);
  });

  test("rl-prompt: the reward curve and best prompt to --out; the policy finds the useful word", async () => {
    const task = join(dir, "sentiment.csv");
    writeFileSync(
      task,
      "review,sentiment\nloved it,positive\nhated it,negative\ngreat,positive\nawful,negative\n",
    );
    const out = join(dir, "rl.json");
    const before = server.requests.length;
    const run = await adaptlm([
      "rl-prompt",
      server.baseUrl,
      "--model",
      "test-model",
      "--task",
      task,
      "--input-field",
      "review",
      "--label-field",
      "sentiment",
      "--vocabulary",
      "movie,sentiment,the,cat",
      "--length",
      "1",
      "--steps",
      "10",
      "--batch-size",
      "4",
      "--examples-per-step",
      "4",
      "--reward",
      "accuracy",
      "--method",
      "generation",
      "--seed",
      "1",
      "--out",
      out,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(readFileSync(out, "utf8")) as {
      bestPrompt: string;
      bestReward: number;
      finalPrompt: string;
      rewardCurve: number[];
      steps: { prompts: string[]; rewards: number[] }[];
      candidates: { label: string; continuation: string }[];
      cost: { lmCalls: number };
    };
    assert.equal(report.bestPrompt, "sentiment");
    assert.equal(report.bestReward, 1);
    assert.equal(report.rewardCurve.length, 10);
    assert.deepEqual(report.candidates, [
      { label: "negative", continuation: " negative" },
      { label: "positive", continuation: " positive" },
    ]);
    // every sampled prompt is rewarded by its accuracy on the step's 4 examples: 1 with "sentiment", else 0.5
    for (const step of report.steps) {
      assert.deepEqual(
        step.rewards,
        step.prompts.map((prompt) => (prompt === "sentiment" ? 1 : 0.5)),
      );
    }
    const sent = server.requests.length - before;
    assert.equal(report.cost.lmCalls, sent);
    // repeated prompts within a step are scored once: at most steps x batch x examples requests
    assert.ok(sent <= 10 * 4 * 4 && sent > 0);
    assert.match(run.stdout, /best prompt \(reward 1\.000\): sentiment/);
    assert.match(run.stdout, new RegExp(`cost: ${sent} LM calls`));
  });

  test("usage errors: no vocabulary, a URL without --model, a missing field", async () => {
    const task = join(dir, "sentiment.csv");
    const noVocabulary = await adaptlm([
      "rl-prompt",
      server.baseUrl,
      "--model",
      "m",
      "--task",
      task,
      "--input-field",
      "review",
      "--label-field",
      "sentiment",
    ]);
    assert.equal(noVocabulary.code, 1);
    assert.match(noVocabulary.stderr, /needs a vocabulary/);
    const noModel = await adaptlm([
      "ape",
      server.baseUrl,
      "--task",
      task,
      "--input-field",
      "review",
      "--label-field",
      "sentiment",
    ]);
    assert.equal(noModel.code, 1);
    assert.match(noModel.stderr, /a server URL needs --model NAME/);
    const badField = await adaptlm(["ape", server.baseUrl, "--model", "m", "--task", task]);
    assert.equal(badField.code, 1);
    assert.match(badField.stderr, /record 0 has no field "text"/);
    const badTemplate = await adaptlm([
      "ape",
      server.baseUrl,
      "--model",
      "m",
      "--task",
      task,
      "--input-field",
      "review",
      "--label-field",
      "sentiment",
      "--evaluation-template",
      "Do {{instruction}} to {{text}}",
    ]);
    assert.equal(badTemplate.code, 1);
    assert.match(
      badTemplate.stderr,
      /--evaluation-template may use \{\{instruction\}\}, \{\{input\}\} only, found \{\{text\}\}/,
    );
  });
});
