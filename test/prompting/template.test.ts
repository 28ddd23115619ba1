import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  buildPrompt,
  formatInput,
  formatTarget,
  type PromptTemplate,
  renderTemplate,
  TemplateError,
  templateFields,
} from "../../src/prompting/template.js";

const sentiment: PromptTemplate = {
  name: "review-sentiment",
  instruction: "Classify each review as {{choices}}.",
  input: "Review: {{text}}\nSentiment:",
  target: " {{label}}",
  verbalizer: { pos: "positive", neg: "negative" },
};

describe("templates", () => {
  test("renderTemplate fills placeholders, allows spaces, and escapes \\{{", () => {
    assert.equal(renderTemplate("{{a}} and {{ b }}!", { a: "x", b: "y" }), "x and y!");
    assert.equal(renderTemplate("literal \\{{a}} then {{a}}", { a: "1" }), "literal {{a}} then 1");
    assert.deepEqual(templateFields("{{premise}} {{ hypothesis }} {{premise}}"), ["premise", "hypothesis"]);
  });

  test("a missing field is a TemplateError naming it and the fields given", () => {
    assert.throws(
      () => renderTemplate("Q: {{question}}", { text: "t" }),
      (error: unknown) => {
        assert.ok(error instanceof TemplateError);
        assert.match(error.message, /\{\{question\}\} but only \[text\] are given/);
        return true;
      },
    );
  });

  test("input and target parts use the verbaliser", () => {
    assert.equal(
      formatInput(sentiment, { fields: { text: "Great." }, label: "pos" }),
      "Review: Great.\nSentiment:",
    );
    assert.equal(formatTarget(sentiment, "neg"), " negative");
    assert.equal(formatTarget(sentiment, "neg", { neg: "bar" }), " bar");
    assert.equal(formatTarget({ name: "t", input: "{{x}}" }, "other"), " other");
  });

  test("buildPrompt joins instruction, demonstrations and query exactly", () => {
    const prompt = buildPrompt(
      sentiment,
      [
        { fields: { text: "Loved it." }, label: "pos" },
        { fields: { text: "Dull." }, label: "neg" },
      ],
      { fields: { text: "Fine film." }, label: "pos" },
      { labels: ["pos", "neg"] },
    );
    assert.equal(
      prompt,
      "Classify each review as positive, negative.\n\n" +
        "Review: Loved it.\nSentiment: positive\n\n" +
        "Review: Dull.\nSentiment: negative\n\n" +
        "Review: Fine film.\nSentiment:",
    );
  });

  test("buildPrompt with a verbaliser override and a custom separator", () => {
    const prompt = buildPrompt(
      { name: "t", input: "{{text}} =>", separator: "\n" },
      [{ fields: { text: "a" }, label: "pos" }],
      { fields: { text: "b" }, label: "neg" },
      { verbalizer: { pos: "foo", neg: "bar" } },
    );
    assert.equal(prompt, "a => foo\nb =>");
  });
});
