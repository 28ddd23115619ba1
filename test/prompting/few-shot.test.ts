import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { LabelledExample } from "../../src/prompting/example.js";
import { buildFewShotPrompt, classifyFewShot } from "../../src/prompting/few-shot.js";
import type { PromptTemplate } from "../../src/prompting/template.js";
import { ScriptedLanguageModel } from "../lm/scripted-language-model.js";

const template: PromptTemplate = {
  name: "sst2",
  instruction: "Answer {{choices}}.",
  input: "Review: {{text}}\nSentiment:",
  verbalizer: { pos: "positive", neg: "negative" },
};
const pool: LabelledExample[] = [
  { id: "a", fields: { text: "superb" }, label: "pos" },
  { id: "b", fields: { text: "dreadful" }, label: "neg" },
  { id: "c", fields: { text: "charming" }, label: "pos" },
];
const query: LabelledExample = { id: "q", fields: { text: "lovely" }, label: "pos" };
const labels = ["pos", "neg"];

describe("few-shot prompts", () => {
  test("fixed demos with gold labels give the exact prompt and candidates", () => {
    const result = buildFewShotPrompt(template, pool, query, {
      labels,
      k: 2,
      selection: "fixed",
      ids: ["b", "a"],
    });
    assert.equal(
      result.prompt,
      "Answer positive, negative.\n\nReview: dreadful\nSentiment: negative\n\nReview: superb\nSentiment: positive\n\nReview: lovely\nSentiment:",
    );
    assert.deepEqual(result.candidates, [
      { label: "pos", continuation: " positive" },
      { label: "neg", continuation: " negative" },
    ]);
  });

  test("flipped labels and unrelated labels (candidates follow the verbaliser)", () => {
    const flipped = buildFewShotPrompt(template, pool, query, {
      labels,
      k: 2,
      selection: "fixed",
      ids: ["b", "a"],
      labelPerturbation: "flipped",
    });
    assert.match(
      flipped.prompt,
      /Review: dreadful\nSentiment: positive\n\nReview: superb\nSentiment: negative/,
    );
    const unrelated = buildFewShotPrompt(template, pool, query, {
      labels,
      k: 2,
      selection: "fixed",
      ids: ["b", "a"],
      labelPerturbation: "unrelated",
    });
    assert.equal(
      unrelated.prompt,
      "Answer foo, bar.\n\nReview: dreadful\nSentiment: bar\n\nReview: superb\nSentiment: foo\n\nReview: lovely\nSentiment:",
    );
    assert.deepEqual(
      unrelated.candidates.map((candidate) => candidate.continuation),
      [" foo", " bar"],
    );
  });

  test("zero-shot, out-of-domain inputs, and classification", async () => {
    assert.equal(
      buildFewShotPrompt(template, pool, query, { labels, k: 0 }).prompt,
      "Answer positive, negative.\n\nReview: lovely\nSentiment:",
    );
    const ood = buildFewShotPrompt(template, pool, query, {
      labels,
      k: 1,
      selection: "fixed",
      ids: ["a"],
      outOfDomain: { texts: ["Shares rose 3%."], field: "text" },
    });
    assert.match(ood.prompt, /Review: Shares rose 3%\.\nSentiment: positive/);
    const lm = new ScriptedLanguageModel({
      score: (_p, continuation) => (continuation === " positive" ? -1 : -2),
    });
    const result = await classifyFewShot(lm, template, pool, query, {
      labels,
      k: 2,
      selection: "random",
      seed: 5,
    });
    assert.equal(result.result.label, "pos");
    assert.equal(result.demonstrations.length, 2);
    assert.ok(result.demonstrations.every((demo) => demo.id !== "q"));
    assert.deepEqual(
      lm.calls.map((call) => call.kind === "score" && call.prompt === result.prompt),
      [true, true],
    );
  });
});
