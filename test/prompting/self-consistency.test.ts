import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Choice } from "../../src/lm/language-model.js";
import { extractCotAnswer } from "../../src/prompting/chain-of-thought.js";
import { aggregateVotes, pathWeight, selfConsistency } from "../../src/prompting/self-consistency.js";
import { ScriptedLanguageModel } from "../lm/scripted-language-model.js";

function path(text: string, tokenLogprobs: number[]): Choice {
  return {
    text,
    finishReason: "stop",
    logprobs: tokenLogprobs.map((logprob, i) => ({ token: `t${i}`, logprob })),
  };
}

const paths: Choice[] = [
  path(" 9 + 9 = 18. The answer is 18.", [-0.1, -0.1]),
  path(" I get 20. The answer is 20.", [-2, -2]),
  path(" 18 it is.", [-0.2]),
  path(" The answer is 20.", [-2]),
  path(" Hmm, 20.", [-2, -2, -2]),
  path(" no idea", [-1]),
];
const extract = (text: string): string | undefined => extractCotAnswer(text, { answerType: "number" });

describe("self-consistency", () => {
  test("one request with n; majority and probability-weighted votes; distribution", async () => {
    const lm = new ScriptedLanguageModel({ generate: (_request, sample) => paths[sample] });
    const result = await selfConsistency(
      lm,
      { prompt: "Q: x\nA:", maxTokens: 100, stop: ["\nQ:"] },
      extract,
      {
        samples: 6,
        temperature: 0.8,
        seed: 11,
      },
    );
    assert.deepEqual(lm.generateRequests, [
      { prompt: "Q: x\nA:", maxTokens: 100, stop: ["\nQ:"], n: 6, temperature: 0.8, seed: 11, logprobs: 0 },
    ]);
    assert.deepEqual(
      result.paths.map((p) => p.answer),
      ["18", "20", "18", "20", "20", undefined],
    );
    assert.equal(result.answer, "20");
    assert.equal(result.majority, "20");
    // 18: exp(-0.1) + exp(-0.2) = 1.72 beats 20: 3 x exp(-2) = 0.41
    assert.equal(result.weighted, "18");
    assert.deepEqual(result.distribution, { 20: 0.6, 18: 0.4 });
    assert.equal(result.abstentions, 1);
    assert.deepEqual(
      result.votes.map((vote) => [vote.answer, vote.count]),
      [
        ["20", 3],
        ["18", 2],
      ],
    );
    assert.ok(Math.abs(result.votes[1].weight - (Math.exp(-0.1) + Math.exp(-0.2))) < 1e-12);
  });

  test("without n: separate seeded requests; without logprobs: no weighted vote", async () => {
    const lm = new ScriptedLanguageModel({
      capabilities: { n: false, logprobs: false, topLogprobs: 0 },
      generate: (request) => ` The answer is ${request.seed! % 2 === 0 ? 4 : 5}.`,
    });
    const result = await selfConsistency(lm, { prompt: "p" }, extract, {
      samples: 5,
      seed: 3,
      concurrency: 2,
    });
    assert.deepEqual(
      lm.generateRequests.map((request) => [request.n, request.seed, request.temperature, request.logprobs]),
      [
        [1, 3, 0.7, undefined],
        [1, 4, 0.7, undefined],
        [1, 5, 0.7, undefined],
        [1, 6, 0.7, undefined],
        [1, 7, 0.7, undefined],
      ],
    );
    assert.equal(result.answer, "5");
    assert.equal(result.weighted, undefined);
    assert.deepEqual(result.distribution, { 5: 0.6, 4: 0.4 });
  });

  test("aggregateVotes: ties go to the larger weight, then to the first seen", () => {
    assert.equal(aggregateVotes([{ answer: "a" }, { answer: "b" }]).majority, "a");
    assert.equal(
      aggregateVotes([
        { answer: "a", weight: 0.1 },
        { answer: "b", weight: 0.9 },
      ]).majority,
      "b",
    );
    const empty = aggregateVotes([{ answer: undefined }]);
    assert.equal(empty.majority, undefined);
    assert.equal(empty.abstentions, 1);
    assert.deepEqual(empty.distribution, {});
    assert.equal(pathWeight([Math.log(0.5), Math.log(0.5)]), 0.5);
    assert.equal(pathWeight([]), undefined);
  });
});
