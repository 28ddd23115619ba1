// Prompt runs against the fake OpenAI-compatible server with scripted answers: the prompts each strategy
// records, the accuracy, the results-store files, and resume (a second pass sends nothing and records nothing).

import assert from "node:assert/strict";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  defaultRunId,
  inferAnswerType,
  type PromptRunOptions,
  type PromptTaskExample,
  promptRunSetupOptions,
  promptTaskFromRecords,
  runPromptEvaluation,
} from "../../src/eval/prompt-run.js";
import {
  type ExampleRecord,
  ResultsStore,
  ResultsStoreError,
  type RunSetup,
} from "../../src/eval/results-store.js";
import { OpenAICompatibleLanguageModel } from "../../src/lm/openai-compatible.js";
import { makeTempDir } from "../io/temp-dir.js";
import {
  completionBody,
  type FakeHandler,
  type FakeServer,
  startFakeServer,
} from "../lm/fake-openai-server.js";

const root = makeTempDir("prompt-run");
let runCounter = 0;
const servers: FakeServer[] = [];
after(async () => {
  for (const server of servers) await server.close();
});

async function serve(
  handler: FakeHandler,
): Promise<{ server: FakeServer; lm: OpenAICompatibleLanguageModel }> {
  const server = await startFakeServer(handler);
  servers.push(server);
  const lm = new OpenAICompatibleLanguageModel({
    baseUrl: server.baseUrl,
    model: "test-model",
    env: {},
    maxRetries: 0,
    timeoutMs: 5000,
  });
  return { server, lm };
}

function openStore(task: string, options: PromptRunOptions, dir?: string): ResultsStore {
  const setup: RunSetup = {
    model: "test-model",
    endpoint: "http://fake",
    taskFile: task,
    strategy: options.strategy,
    options: promptRunSetupOptions(options),
    seed: options.seed ?? 0,
  };
  return ResultsStore.open(dir ?? join(root, `run-${runCounter++}`), defaultRunId(setup), setup);
}

function readLines(dir: string): ExampleRecord[] {
  return readFileSync(join(dir, "examples.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as ExampleRecord);
}

const sentiment: PromptTaskExample[] = promptTaskFromRecords([
  { id: "a", text: "great film", label: "pos" },
  { id: "b", text: "awful plot", label: "neg" },
  { id: "c", text: "loved it", label: "pos" },
  { id: "d", text: "boring mess", label: "neg" },
]);

/** Answers the label of the last "Input:" line of the prompt; "boring mess" is answered wrongly. */
const sentimentAnswers: Record<string, string> = {
  "great film": " pos",
  "awful plot": " neg",
  "loved it": " pos",
  "boring mess": " pos",
};
const answerLastInput: FakeHandler = (request) => {
  const prompt = String(request.body.prompt);
  const inputs = [...prompt.matchAll(/Input: (.*)\n/g)].map((match) => match[1]);
  return { body: completionBody([sentimentAnswers[inputs[inputs.length - 1]] ?? " ?"]) };
};

describe("runPromptEvaluation: classification", () => {
  test("few-shot by generation: prompts with k demonstrations, accuracy 3/4, files written; resume sends nothing", async () => {
    const { server, lm } = await serve(answerLastInput);
    const options: PromptRunOptions = { strategy: "few-shot", k: 2, method: "generation", seed: 3 };
    const store = openStore("sentiment.jsonl", options);
    const progress: number[] = [];
    const result = await runPromptEvaluation(lm, sentiment, store, {
      ...options,
      onProgress: (p) => progress.push(p.done),
    });
    assert.deepEqual(result.metric, { name: "accuracy", value: 0.75, correct: 3, total: 4 });
    assert.equal(result.recorded, 4);
    assert.equal(result.skipped, 0);
    assert.deepEqual(result.labels, ["neg", "pos"]);
    assert.deepEqual(progress, [1, 2, 3, 4]);
    assert.equal(server.requests.length, 4);

    const lines = readLines(store.dir);
    assert.deepEqual(
      lines.map((line) => [line.id, line.answer, line.gold, line.correct]),
      [
        ["a", "pos", "pos", true],
        ["b", "neg", "neg", true],
        ["c", "pos", "pos", true],
        ["d", "pos", "neg", false],
      ],
    );
    for (const [i, line] of lines.entries()) {
      const prompt = line.prompts[0];
      assert.equal(line.prompts.length, 1);
      assert.equal(server.requests[i].body.prompt, prompt, "the recorded prompt is the prompt sent");
      assert.ok(prompt.startsWith("Possible labels: neg, pos.\n\n"), prompt);
      assert.ok(prompt.endsWith(`Input: ${line.input}\nLabel:`), prompt);
      const demos = [...prompt.matchAll(/Input: (.*)\nLabel: (\w+)/g)];
      assert.equal(demos.length, 2, "k = 2 demonstrations with their gold labels");
      for (const demo of demos) {
        assert.notEqual(demo[1], line.input, "a query is never its own demonstration");
        const source = sentiment.find((example) => example.input === demo[1]);
        assert.equal(demo[2], source?.gold);
      }
      assert.deepEqual(line.outputs, [sentimentAnswers[line.input]]);
    }
    const run = JSON.parse(readFileSync(join(store.dir, "run.json"), "utf8"));
    assert.equal(run.strategy, "few-shot");
    assert.equal(run.seed, 3);
    assert.deepEqual(run.options, {
      inputField: "text",
      labelField: "label",
      k: 2,
      temperature: 0,
      labels: "gold",
      method: "generation",
    });
    assert.deepEqual(run.metric, { name: "accuracy", value: 0.75, correct: 3, total: 4 });
    assert.ok(typeof run.startedAt === "string" && typeof run.finishedAt === "string");

    // resume: same folder, same setup
    const reopened = openStore("sentiment.jsonl", options, store.dir);
    const again = await runPromptEvaluation(lm, sentiment, reopened, options);
    assert.equal(server.requests.length, 4, "no request on resume");
    assert.equal(again.recorded, 0);
    assert.equal(again.skipped, 4);
    assert.deepEqual(again.metric, result.metric);
    assert.equal(readLines(store.dir).length, 4, "nothing appended");
  });

  test("a run interrupted after 2 examples resumes with the other 2; flipped labels show in the demonstrations", async () => {
    const { server, lm } = await serve(answerLastInput);
    const options: PromptRunOptions = { strategy: "few-shot", k: 1, method: "generation", labels: "flipped" };
    const store = openStore("sentiment.jsonl", options);
    const first = await runPromptEvaluation(lm, sentiment, store, { ...options, limit: 2 });
    assert.deepEqual([first.metric.correct, first.metric.total], [2, 2]);
    const second = await runPromptEvaluation(
      lm,
      sentiment,
      openStore("sentiment.jsonl", options, store.dir),
      options,
    );
    assert.equal(second.skipped, 2);
    assert.equal(second.recorded, 2);
    assert.deepEqual([second.metric.correct, second.metric.total], [3, 4]);
    assert.equal(server.requests.length, 4);
    for (const line of readLines(store.dir)) {
      const [demo] = [...line.prompts[0].matchAll(/Input: (.*)\nLabel: (\w+)/g)];
      const source = sentiment.find((example) => example.input === demo[1]);
      assert.notEqual(demo[2], source?.gold, "flipped: the demonstration shows the wrong label");
    }
  });

  test("zero-shot: no demonstrations whatever k", async () => {
    const { lm } = await serve(answerLastInput);
    const options: PromptRunOptions = { strategy: "zero-shot", k: 3, method: "generation" };
    const store = openStore("sentiment.jsonl", options);
    const result = await runPromptEvaluation(lm, sentiment, store, options);
    assert.equal(result.metric.correct, 3);
    for (const line of readLines(store.dir)) {
      assert.equal(line.prompts[0], `Possible labels: neg, pos.\n\nInput: ${line.input}\nLabel:`);
    }
  });
});

const arithmetic: PromptTaskExample[] = promptTaskFromRecords(
  [
    { q: "2 + 3?", a: "5", rationale: "2 plus 3 is 5." },
    { q: "4 * 2?", a: "8", rationale: "4 times 2 is 8." },
    { q: "10 - 1?", a: "9", rationale: "10 minus 1 is 9." },
  ],
  { inputField: "q", labelField: "a" },
);

describe("runPromptEvaluation: answer strategies", () => {
  test("zero-shot CoT: two-stage prompts recorded, numbers extracted after the trigger", async () => {
    const replies: Record<string, string> = { "2 + 3?": "5", "4 * 2?": "8", "10 - 1?": "11" };
    const { server, lm } = await serve((request) => {
      const prompt = String(request.body.prompt);
      const question = /^Q: (.*)\n/.exec(prompt)?.[1] ?? "";
      if (prompt.endsWith("Let's think step by step.")) return { body: completionBody([" I compute it."]) };
      return { body: completionBody([` ${replies[question]}.`]) };
    });
    const options: PromptRunOptions = { strategy: "zero-shot-cot" };
    const store = openStore("arith.jsonl", options);
    const result = await runPromptEvaluation(lm, arithmetic, store, options);
    assert.equal(result.answerType, "number");
    assert.deepEqual([result.metric.correct, result.metric.total], [2, 3]);
    assert.equal(server.requests.length, 6);
    const [line] = readLines(store.dir);
    assert.deepEqual(line.prompts, [
      "Q: 2 + 3?\nA: Let's think step by step.",
      "Q: 2 + 3?\nA: Let's think step by step. I compute it. Therefore, the answer (arabic numerals) is",
    ]);
    assert.deepEqual(line.outputs, [" I compute it.", " 5."]);
    assert.equal(line.answer, "5");
    assert.equal(line.correct, true);
  });

  test("few-shot CoT: worked exemplars from the task's rationale field", async () => {
    const { lm } = await serve(() => ({ body: completionBody([" Easy. The answer is 9."]) }));
    const options: PromptRunOptions = { strategy: "cot", k: 1 };
    const store = openStore("arith.jsonl", options);
    const result = await runPromptEvaluation(lm, arithmetic, store, options);
    assert.deepEqual([result.metric.correct, result.metric.total], [1, 3]);
    const lines = readLines(store.dir);
    for (const line of lines) {
      const blocks = line.prompts[0].split("\n\n");
      assert.equal(blocks.length, 2);
      assert.match(blocks[0], /^Q: .*\nA: .+ is \d+\. The answer is \d+\.$/);
      assert.equal(blocks[1], `Q: ${line.input}\nA:`);
    }
    assert.equal(lines[2].answer, "9");
  });

  test("self-consistency: n paths in one request, majority vote and its counts recorded", async () => {
    const { server, lm } = await serve((request) => {
      const n = Number(request.body.n ?? 1);
      const paths: Array<[string, number]> = [
        [" So 5. The answer is 5.", -0.1],
        [" The answer is 6.", -0.05],
        [" Then the answer is 5.", -0.2],
      ];
      // the server returns one token per path with its logprob (asked for: the weighted vote needs them)
      const choices = paths.slice(0, n).map(([text, logprob], index) => ({
        index,
        text,
        finish_reason: "stop",
        logprobs: { tokens: [text], token_logprobs: [logprob], top_logprobs: null, text_offset: [0] },
      }));
      return { body: { choices, usage: { prompt_tokens: 5, completion_tokens: 3 } } };
    });
    const options: PromptRunOptions = { strategy: "self-consistency", k: 0, samples: 3, temperature: 0.5 };
    const store = openStore("arith.jsonl", options);
    const result = await runPromptEvaluation(lm, arithmetic.slice(0, 1), store, options);
    assert.deepEqual([result.metric.correct, result.metric.total], [1, 1]);
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0].body.n, 3);
    assert.equal(server.requests[0].body.temperature, 0.5);
    const [line] = readLines(store.dir);
    assert.deepEqual(line.answers, ["5", "6", "5"]);
    assert.equal(line.answer, "5");
    assert.deepEqual(
      line.votes?.map((vote) => [vote.answer, vote.count, Number(vote.weight.toFixed(6))]),
      [
        ["5", 2, Number((Math.exp(-0.1) + Math.exp(-0.2)).toFixed(6))],
        ["6", 1, Number(Math.exp(-0.05).toFixed(6))],
      ],
    );
    assert.equal(server.requests[0].body.logprobs, 0);
    assert.equal(line.prompts[0], "Q: 2 + 3?\nA:");
  });

  test("least-to-most: decomposition then one solving prompt per sub-question and the question", async () => {
    const { server, lm } = await serve((request) => {
      const prompt = String(request.body.prompt);
      if (prompt.endsWith("Sub-questions:\n")) return { body: completionBody(["1. What is 2?"]) };
      if (prompt.endsWith("Q: What is 2?\nA:")) return { body: completionBody([" It is 2."]) };
      return { body: completionBody([" The answer is 5."]) };
    });
    const options: PromptRunOptions = { strategy: "least-to-most", k: 0 };
    const store = openStore("arith.jsonl", options);
    const result = await runPromptEvaluation(lm, arithmetic.slice(0, 1), store, options);
    assert.equal(result.metric.correct, 1);
    assert.equal(server.requests.length, 3);
    const [line] = readLines(store.dir);
    assert.deepEqual(line.prompts, [
      "Q: 2 + 3?\nSub-questions:\n",
      "2 + 3?\n\nQ: What is 2?\nA:",
      "2 + 3?\n\nQ: What is 2?\nA: It is 2.\n\nQ: 2 + 3?\nA:",
    ]);
    assert.deepEqual(line.outputs, ["1. What is 2?", "It is 2.", "The answer is 5."]);
  });
});

describe("ResultsStore", () => {
  test("a different setup in the same folder is refused; a line cut off mid-append is dropped on open", () => {
    const options: PromptRunOptions = { strategy: "cot", k: 1 };
    const store = openStore("arith.jsonl", options);
    const record: ExampleRecord = {
      index: 0,
      id: "0",
      input: "2 + 3?",
      prompts: ["p"],
      outputs: ["o"],
      answers: ["5"],
      answer: "5",
      gold: "5",
      correct: true,
    };
    store.append(record);
    assert.throws(
      () => store.append(record),
      (error: unknown) => error instanceof ResultsStoreError && error.code === "RESULTS_DUPLICATE_EXAMPLE",
    );
    assert.throws(
      () => openStore("arith.jsonl", { strategy: "cot", k: 2 }, store.dir),
      (error: unknown) =>
        error instanceof ResultsStoreError &&
        error.code === "RESULTS_SETUP_MISMATCH" &&
        /options/.test(error.message),
    );
    appendFileSync(join(store.dir, "examples.jsonl"), '{"index":1,"id":"1","inp');
    const reopened = openStore("arith.jsonl", options, store.dir);
    assert.deepEqual(
      reopened.examples().map((r) => r.id),
      ["0"],
    );
    assert.equal(readFileSync(join(store.dir, "examples.jsonl"), "utf8"), `${JSON.stringify(record)}\n`);
    assert.ok(existsSync(join(store.dir, "run.json")));
  });

  test("answer types are inferred from the gold answers", () => {
    assert.equal(inferAnswerType(["5", "1,000", "-2.5"]), "number");
    assert.equal(inferAnswerType(["yes", "No"]), "yes-no");
    assert.equal(inferAnswerType(["A", "C"]), "choice");
    assert.equal(inferAnswerType(["Paris", "5"]), "text");
  });
});
