import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  calibratedPrediction,
  calibrateProbabilities,
  contentFreeExample,
  estimateContentFreePrior,
  labelProbabilities,
} from "../../src/prompting/calibration.js";
import {
  type Candidate,
  chooseClassificationMethod,
  classify,
  multipleChoiceAccuracy,
  parseCandidate,
} from "../../src/prompting/classification.js";
import { buildPrompt, type PromptTemplate } from "../../src/prompting/template.js";
import { ScriptedLanguageModel } from "../lm/scripted-language-model.js";

const candidates: Candidate[] = [
  { label: "pos", continuation: " positive" },
  { label: "neg", continuation: " negative" },
];

describe("classification", () => {
  test("by score: every candidate scored after the same prompt; acc and acc_norm argmax", async () => {
    const choices: Candidate[] = [
      { label: "A", continuation: " a cat" }, // logprob -3, per char -0.5
      { label: "B", continuation: " an elephant" }, // logprob -4.4, per char -0.4
    ];
    const lm = new ScriptedLanguageModel({
      score: (_prompt, continuation) => (continuation === " a cat" ? -3 : -4.4),
    });
    const result = await classify(lm, "Q: which is big?\nA:", choices);
    assert.deepEqual(lm.calls, [
      { kind: "score", prompt: "Q: which is big?\nA:", continuation: " a cat" },
      { kind: "score", prompt: "Q: which is big?\nA:", continuation: " an elephant" },
    ]);
    assert.deepEqual(result, { method: "score", label: "A", labelNormalised: "B", logprobs: [-3, -4.4] });
    assert.deepEqual(multipleChoiceAccuracy([result, result], ["B", "A"]), {
      acc: 0.5,
      accNorm: 0.5,
      count: 2,
    });
  });

  test("by single-token logprobs when the backend cannot score", async () => {
    const lm = new ScriptedLanguageModel({
      capabilities: { score: false, topLogprobs: 3 },
      generate: () => ({
        text: " neg",
        finishReason: "length",
        logprobs: [
          {
            token: " neg",
            logprob: -0.4,
            topLogprobs: [
              { token: " neg", logprob: -0.4 },
              { token: " pos", logprob: -1.2 },
              { token: " Pos", logprob: -2 },
            ],
          },
        ],
      }),
    });
    assert.equal(chooseClassificationMethod(lm.capabilities), "token-logprobs");
    const result = await classify(lm, "Review: meh\nSentiment:", candidates);
    assert.deepEqual(lm.generateRequests, [
      { prompt: "Review: meh\nSentiment:", maxTokens: 1, temperature: 0, logprobs: 3 },
    ]);
    assert.equal(result.label, "neg");
    assert.deepEqual(result.logprobs, [-1.2, -0.4]);
    assert.equal(result.generated, " neg");
  });

  test("by generation and parsing when there are no logprobs", async () => {
    const lm = new ScriptedLanguageModel({
      capabilities: { score: false, logprobs: false, topLogprobs: 0 },
      generate: () => " I think it is Negative, not positive.",
    });
    assert.equal(chooseClassificationMethod(lm.capabilities), "generation");
    const result = await classify(lm, "p", candidates);
    assert.deepEqual(lm.generateRequests, [{ prompt: "p", maxTokens: 16, temperature: 0, stop: ["\n"] }]);
    assert.deepEqual(result, {
      method: "generation",
      label: "neg",
      labelNormalised: "neg",
      generated: " I think it is Negative, not positive.",
    });
  });

  test("parseCandidate: earliest mention on word boundaries, longer wins at the same place", () => {
    const options: Candidate[] = [
      { label: "good", continuation: " good" },
      { label: "notgood", continuation: " not good" },
    ];
    assert.equal(parseCandidate("not good at all", options), "notgood");
    assert.equal(parseCandidate("goodness, it is good", options), "good");
    assert.equal(parseCandidate("unclear", options), undefined);
  });
});

describe("contextual calibration", () => {
  const template: PromptTemplate = {
    name: "t",
    input: "Input: {{text}}\nLabel:",
    verbalizer: { pos: "positive", neg: "negative" },
  };

  test("the content-free prior is estimated on the same prompt with N/A, '' and [MASK]", async () => {
    // the model favours " positive" whatever the input: p(positive) = 0.8 on content-free inputs
    const lm = new ScriptedLanguageModel({
      score: (prompt, continuation) => {
        const real = prompt.includes("Input: awful");
        const pPositive = real ? 0.6 : 0.8;
        return Math.log(continuation === " positive" ? pPositive : 1 - pPositive);
      },
    });
    const demos = [{ fields: { text: "nice" }, label: "pos" }];
    const query = { fields: { text: "awful" }, label: "neg" };
    const prior = await estimateContentFreePrior(
      lm,
      (text) => buildPrompt(template, demos, contentFreeExample(query, text)),
      candidates,
    );
    assert.deepEqual(
      lm.calls
        .filter((call) => call.kind === "score" && call.continuation === " positive")
        .map((call) => call.kind === "score" && call.prompt),
      [
        "Input: nice\nLabel: positive\n\nInput: N/A\nLabel:",
        "Input: nice\nLabel: positive\n\nInput: \nLabel:",
        "Input: nice\nLabel: positive\n\nInput: [MASK]\nLabel:",
      ],
    );
    assert.ok(Math.abs(prior[0] - 0.8) < 1e-12 && Math.abs(prior[1] - 0.2) < 1e-12);
    // uncalibrated the real input is "positive" (0.6); calibrated: 0.6/0.8 = 0.75 vs 0.4/0.2 = 2 -> negative
    const result = await classify(lm, buildPrompt(template, demos, query), candidates);
    assert.equal(result.label, "pos");
    const calibrated = calibratedPrediction(result.logprobs!, candidates, prior);
    assert.equal(calibrated.label, "neg");
    assert.ok(Math.abs(calibrated.probabilities[0] - 0.75 / 2.75) < 1e-12);
  });

  test("labelProbabilities is a softmax; calibration with a uniform prior changes nothing", () => {
    const probabilities = labelProbabilities([Math.log(0.2), Math.log(0.6)]);
    assert.ok(Math.abs(probabilities[0] - 0.25) < 1e-12);
    assert.deepEqual(calibrateProbabilities([0.25, 0.75], [0.5, 0.5]), [0.25, 0.75]);
  });
});
