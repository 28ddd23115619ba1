import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { PromptTemplate } from "../../src/prompting/template.js";
import {
  evaluateTemplates,
  summariseAccuracies,
  templateCandidates,
} from "../../src/prompting/template-sweep.js";
import { ScriptedLanguageModel } from "../lm/scripted-language-model.js";

const templates: PromptTemplate[] = [
  { name: "plain", input: "{{text}}\nSentiment:", verbalizer: { pos: "positive", neg: "negative" } },
  {
    name: "question",
    input: "Is this review good? {{text}}\nAnswer:",
    verbalizer: { pos: "yes", neg: "no" },
  },
];
const examples = [
  { fields: { text: "loved it" }, label: "pos" },
  { fields: { text: "hated it" }, label: "neg" },
];

describe("template sweep", () => {
  test("accuracy per template and its spread", async () => {
    // under "plain" the model gets both right; under "question" it always says yes
    const lm = new ScriptedLanguageModel({
      score: (prompt, continuation) => {
        if (prompt.startsWith("Is this")) return continuation === " yes" ? -0.1 : -3;
        const positive = prompt.includes("loved");
        return continuation === (positive ? " positive" : " negative") ? -0.1 : -3;
      },
    });
    const result = await evaluateTemplates(lm, templates, examples, { labels: ["pos", "neg"] });
    assert.deepEqual(
      result.perTemplate.map((entry) => [entry.template, entry.accuracy, entry.predictions]),
      [
        ["plain", 1, ["pos", "neg"]],
        ["question", 0.5, ["pos", "pos"]],
      ],
    );
    assert.equal(result.mean, 0.75);
    assert.equal(result.std, 0.25);
    assert.deepEqual([result.min, result.max], [0.5, 1]);
    assert.deepEqual(lm.calls[0], {
      kind: "score",
      prompt: "loved it\nSentiment:",
      continuation: " positive",
    });
    assert.equal(lm.calls.length, 8);
  });

  test("helpers", () => {
    assert.deepEqual(templateCandidates(templates[1], ["pos", "neg"]), [
      { label: "pos", continuation: " yes" },
      { label: "neg", continuation: " no" },
    ]);
    assert.deepEqual(summariseAccuracies([]), { mean: 0, std: 0, min: 0, max: 0 });
  });
});
