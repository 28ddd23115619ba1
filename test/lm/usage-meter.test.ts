import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BudgetExceededError, UsageConfigError, UsageMeter } from "../../src/lm/usage-meter.js";
import { ScriptedLanguageModel } from "./scripted-language-model.js";

// the scripted model reports one token per word, so costs here are exact
const prices = { m: { inputPerMillion: 1_000_000, outputPerMillion: 2_000_000 } }; // 1 per input token, 2 per output token

describe("UsageMeter", () => {
  test("accounts tokens and cost per model and in total", async () => {
    const snapshots: number[] = [];
    const meter = new UsageMeter({ prices, onUsage: (snapshot) => snapshots.push(snapshot.cost) });
    const a = meter.wrap(new ScriptedLanguageModel({ model: "m", generate: () => "two words" }));
    const b = meter.wrap(new ScriptedLanguageModel({ model: "free", generate: () => "one" }));
    await a.generate({ prompt: "three word prompt" });
    await a.generate({ prompt: "x", n: 2 });
    await b.generate({ prompt: "y z" });
    const snapshot = meter.snapshot();
    assert.deepEqual(snapshot.byModel, {
      m: { requests: 2, promptTokens: 4, completionTokens: 6, cost: 16 },
      free: { requests: 1, promptTokens: 2, completionTokens: 1, cost: 0 },
    });
    assert.deepEqual(
      {
        requests: snapshot.requests,
        promptTokens: snapshot.promptTokens,
        completionTokens: snapshot.completionTokens,
        cost: snapshot.cost,
      },
      { requests: 3, promptTokens: 6, completionTokens: 7, cost: 16 },
    );
    assert.deepEqual(snapshots, [7, 16, 16]);
  });

  test("stops before sending a request whose worst case would pass the budget", async () => {
    const inner = new ScriptedLanguageModel({ model: "m", generate: () => "a b" });
    // estimate: ceil(chars / 4) prompt tokens at 1, maxTokens x n at 2
    const meter = new UsageMeter({ prices, budget: 20 });
    const lm = meter.wrap(inner);
    await lm.generate({ prompt: "abcd", maxTokens: 5 }); // estimate 1 + 10 = 11 <= 20; actual 1 + 4 = 5
    await assert.rejects(lm.generate({ prompt: "abcd", maxTokens: 8 }), (error: unknown) => {
      // 5 spent + 1 + 16 = 22 > 20
      assert.ok(error instanceof BudgetExceededError);
      assert.equal(error.when, "before");
      assert.equal(error.spent, 5);
      assert.equal(error.limit, 20);
      assert.match(error.message, /was not sent/);
      return true;
    });
    assert.equal(inner.calls.length, 1);
    await lm.generate({ prompt: "abcd", maxTokens: 7 }); // 5 + 1 + 14 = 20: allowed
    assert.equal(inner.calls.length, 2);
  });

  test("stops right after a request that passed the budget, handing over its answer", async () => {
    const inner = new ScriptedLanguageModel({ model: "m", generate: () => "w w w w w w" });
    const meter = new UsageMeter({ prices, budget: 10, estimateTokens: () => 0 });
    const lm = meter.wrap(inner);
    await assert.rejects(lm.generate({ prompt: "p", maxTokens: 5 }), (error: unknown) => {
      assert.ok(error instanceof BudgetExceededError);
      assert.equal(error.when, "after");
      assert.equal(error.spent, 13);
      assert.equal(error.response?.choices[0].text, "w w w w w w");
      return true;
    });
    await assert.rejects(
      lm.generate({ prompt: "p", maxTokens: 1 }),
      (error: unknown) => error instanceof BudgetExceededError && error.when === "before",
    );
    assert.equal(inner.calls.length, 1);
  });

  test("concurrent requests reserve their estimates, so together they cannot overshoot", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const inner = new ScriptedLanguageModel({ model: "m", generate: () => "a" });
    const slow = {
      model: "m",
      capabilities: inner.capabilities,
      generate: async (request: Parameters<typeof inner.generate>[0]) => {
        await gate;
        return inner.generate(request);
      },
      score: inner.score.bind(inner),
    };
    const lm = new UsageMeter({ prices, budget: 25, estimateTokens: () => 0 }).wrap(slow);
    const first = lm.generate({ prompt: "p", maxTokens: 10 }); // reserves 20
    await assert.rejects(lm.generate({ prompt: "p", maxTokens: 5 }), BudgetExceededError); // 20 + 10 > 25
    release();
    await first;
    assert.equal(inner.calls.length, 1);
  });

  test("a token budget works without prices; a cost budget without a price is a config error", async () => {
    const inner = new ScriptedLanguageModel({ model: "unpriced", generate: () => "a b c" });
    const lm = new UsageMeter({ maxTotalTokens: 8, estimateTokens: () => 1 }).wrap(inner);
    await lm.generate({ prompt: "p", maxTokens: 3 });
    await assert.rejects(
      lm.generate({ prompt: "p", maxTokens: 4 }),
      /token budget 8 would be exceeded: used 4/,
    );
    assert.throws(() => new UsageMeter({ budget: 1 }).wrap(inner), UsageConfigError);
  });
});
