// guardContext: a single-choice generation that ended by "length" with fewer tokens than asked was cut by the
// model's context and throws ContextCutError (code CONTEXT_TOO_LONG); everything else passes unchanged.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ContextCutError, guardContext } from "../../src/lm/context-guard.js";
import type { Choice } from "../../src/lm/language-model.js";
import { ScriptedLanguageModel } from "./scripted-language-model.js";

/** Answers `words` words, ending with the given finish reason (the scripted model counts a word as a token). */
function answering(words: number, finishReason: Choice["finishReason"]): ScriptedLanguageModel {
  return new ScriptedLanguageModel({
    generate: () => ({ text: Array.from({ length: words }, () => " w").join(""), finishReason }),
  });
}

describe("guardContext", () => {
  test("length with fewer tokens than asked is a context cut, with the numbers in the message", async () => {
    const lm = guardContext(answering(3, "length"));
    await assert.rejects(lm.generate({ prompt: "one two three four", maxTokens: 10 }), (error: unknown) => {
      assert.ok(error instanceof ContextCutError);
      assert.equal(error.code, "CONTEXT_TOO_LONG");
      assert.deepEqual([error.promptTokens, error.maxTokens, error.generatedTokens], [4, 10, 3]);
      assert.match(error.message, /prompt 4 tokens \+ up to 10 new tokens > context 7/);
      return true;
    });
  });

  test("reaching maxTokens, stopping early, several choices and unreported usage pass", async () => {
    const full = await guardContext(answering(10, "length")).generate({ prompt: "p", maxTokens: 10 });
    assert.equal(full.choices[0]?.finishReason, "length");
    const stopped = await guardContext(answering(3, "stop")).generate({ prompt: "p", maxTokens: 10 });
    assert.equal(stopped.choices[0]?.text, " w w w");
    const many = await guardContext(answering(3, "length")).generate({ prompt: "p", maxTokens: 10, n: 2 });
    assert.equal(many.choices.length, 2);
    const silent = await guardContext(answering(0, "length")).generate({ prompt: "p", maxTokens: 10 });
    assert.equal(silent.usage.completionTokens, 0);
  });

  test("keeps the model's name, capabilities and scoring", async () => {
    const inner = new ScriptedLanguageModel({ model: "m", score: () => -1.5 });
    const lm = guardContext(inner);
    assert.equal(lm.model, "m");
    assert.equal(lm.capabilities, inner.capabilities);
    assert.equal((await lm.score("a", "b")).logprob, -1.5);
  });
});
