// The local engine behind the LanguageModel interface, on stories260K: generation with n / seed / stop /
// logprobs, scoring, declared capabilities, and its place in buildLanguageModelStack (metered, cached).

import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { AdaptlmError } from "../../src/errors.js";
import {
  type Choice,
  generateSamples,
  type LanguageModel,
  LmCapabilityError,
} from "../../src/lm/language-model.js";
import { LocalLanguageModel, localEngineFactory } from "../../src/lm/local-engine.js";
import { buildLanguageModelStack } from "../../src/lm/stack.js";
import { generate } from "../../src/models/generate.js";
import { loadModel } from "../../src/models/load-model.js";
import type { CausalLanguageModel } from "../../src/models/registry.js";
import { makeTempDir } from "../io/temp-dir.js";
import { stories260K } from "../models/model-fixtures.js";

const loaded = await loadModel(stories260K.checkpoint, { tokenizer: stories260K.tokenizer });
const lm = new LocalLanguageModel(loaded, { name: "stories260K" });

describe("LocalLanguageModel", () => {
  test("declares what it can do", () => {
    assert.equal(lm.model, "stories260K");
    assert.deepEqual(lm.capabilities, {
      n: true,
      seed: true,
      logprobs: true,
      topLogprobs: 20,
      score: true,
      chat: false,
      completions: true,
    });
  });

  test("greedy generation is the engine's greedy generation, decoded; usage counts tokens", async () => {
    const response = await lm.generate({ prompt: "Once upon a time", maxTokens: 20, logprobs: 0 });
    assert.equal(response.choices.length, 1);
    const ids = loaded.tokenizer?.encode("Once upon a time").ids ?? [];
    const direct = generate(loaded.model as CausalLanguageModel, ids, {
      maxNewTokens: 20,
      eosTokenIds: [2, 1],
    });
    const choice = response.choices[0];
    assert.equal(
      choice.text,
      loaded.tokenizer
        ?.decode([...ids, ...direct.tokens], { skipSpecialTokens: true })
        .slice("Once upon a time".length),
    );
    assert.equal(choice.finishReason, "length");
    assert.deepEqual(response.usage, { promptTokens: ids.length, completionTokens: 20 });
    assert.deepEqual(
      choice.logprobs?.map((t) => t.logprob),
      direct.logprobs,
    );
    assert.equal(choice.logprobs?.map((t) => t.token).join(""), choice.text);
    assert.equal(choice.logprobs?.[0].topLogprobs, undefined, "logprobs: 0 asks for no alternatives");
  });

  test("n samples in one request equal single requests seeded seed, seed + 1, ...; top logprobs", async () => {
    const request = { prompt: "Lily", maxTokens: 15, temperature: 1, seed: 9, n: 3, logprobs: 3 };
    const together = await lm.generate(request);
    assert.equal(together.choices.length, 3);
    // Batches of 3 and 1 rows round differently in the GEMMs (~1e-6): same tokens, logprobs within 1e-4.
    const sameChoice = (a: Choice, b: Choice) => {
      assert.equal(a.text, b.text);
      assert.equal(a.finishReason, b.finishReason);
      assert.deepEqual(
        a.logprobs?.map((t) => [t.token, t.topLogprobs?.map((x) => x.token)]),
        b.logprobs?.map((t) => [t.token, t.topLogprobs?.map((x) => x.token)]),
      );
      a.logprobs?.forEach((t, i) => {
        assert.ok(Math.abs(t.logprob - (b.logprobs?.[i].logprob ?? 0)) < 1e-4);
      });
    };
    for (let i = 0; i < 3; i++) {
      const alone = await lm.generate({ ...request, n: 1, seed: 9 + i });
      sameChoice(together.choices[i], alone.choices[0]);
    }
    // generateSamples takes the n path here; its fallback (n single requests) gives the same samples.
    const singles: LanguageModel = {
      model: lm.model,
      capabilities: { ...lm.capabilities, n: false },
      generate: (r) => lm.generate(r),
      score: (p, c) => lm.score(p, c),
    };
    const fallback = await generateSamples(singles, request);
    together.choices.forEach((choice, i) => {
      sameChoice(choice, fallback.choices[i]);
    });
    assert.ok(new Set(together.choices.map((c) => c.text)).size > 1, "samples at temperature 1 differ");
    for (const choice of together.choices) {
      for (const token of choice.logprobs ?? []) {
        assert.equal(token.topLogprobs?.length, 3);
        assert.ok(token.logprob <= (token.topLogprobs?.[0].logprob ?? 0) + 1e-12);
        // The chosen token's text is spelled like the alternatives' (leading spaces kept).
        const same = token.topLogprobs?.find((t) => Math.abs(t.logprob - token.logprob) < 1e-12);
        if (same) assert.equal(same.token, token.token);
      }
    }
  });

  test("stop strings end a choice before the stop string", async () => {
    const free = await lm.generate({ prompt: "Once upon a time", maxTokens: 40 });
    assert.ok(free.choices[0].text.includes("."));
    const stopped = await lm.generate({ prompt: "Once upon a time", maxTokens: 40, stop: ["."] });
    assert.equal(stopped.choices[0].finishReason, "stop");
    assert.equal(stopped.choices[0].text, free.choices[0].text.slice(0, free.choices[0].text.indexOf(".")));
  });

  test("score: log-likelihood of a continuation; the likely one is greedy", async () => {
    const likely = await lm.score("Once upon a", " time");
    const unlikely = await lm.score("Once upon a", " dog");
    assert.ok(likely.logprob > unlikely.logprob);
    assert.equal(likely.isGreedy, true);
    assert.equal(unlikely.isGreedy, false);
    assert.deepEqual(likely.tokens, [" time"]);
    assert.ok(Math.abs(unlikely.logprob - unlikely.tokenLogprobs.reduce((a, b) => a + b, 0)) < 1e-12);
    // The greedy continuation's score is what generation reported for it.
    const generated = await lm.generate({ prompt: "Once upon a", maxTokens: 6, logprobs: 0 });
    const scored = await lm.score("Once upon a", generated.choices[0].text);
    const generatedSum = (generated.choices[0].logprobs ?? []).reduce((a, t) => a + t.logprob, 0);
    assert.ok(Math.abs(scored.logprob - generatedSum) < 1e-4, `${scored.logprob} vs ${generatedSum}`);
    assert.equal(scored.isGreedy, true);
  });

  test("an abort ends generation at the next token with a typed error", async () => {
    const controller = new AbortController();
    let steps = 0;
    const pending = lm.generate(
      { prompt: "Once upon a time", maxTokens: 200 },
      { signal: controller.signal },
    );
    // Abort once the engine has yielded a few times (it yields to the event loop between tokens).
    await new Promise<void>((resolve) => {
      const tick = () => {
        if (++steps === 5) resolve();
        else setImmediate(tick);
      };
      setImmediate(tick);
    });
    controller.abort();
    await assert.rejects(
      pending,
      (e: unknown) => e instanceof AdaptlmError && e.code === "GENERATION_ABORTED",
    );
    // The engine is free again afterwards.
    const after = await lm.generate({ prompt: "Once upon a time", maxTokens: 3 });
    assert.equal(after.usage.completionTokens, 3);
  });

  test("chat messages are refused with a capability error", async () => {
    await assert.rejects(lm.generate({ prompt: [{ role: "user", content: "hi" }] }), LmCapabilityError);
  });

  test("as the stack's localFactory: loaded lazily, metered and cached", async () => {
    const stack = buildLanguageModelStack({
      target: stories260K.checkpoint,
      localFactory: localEngineFactory({ tokenizer: stories260K.tokenizer }),
      cachePath: join(makeTempDir("local-engine-cache"), "cache.sqlite"),
    });
    try {
      const request = { prompt: "Once upon a time", maxTokens: 8 };
      const first = await stack.lm.generate(request);
      const second = await stack.lm.generate(request);
      assert.equal(second.cached, true);
      assert.equal(second.choices[0].text, first.choices[0].text);
      assert.ok(stack.meter.snapshot().completionTokens >= 8);
      const score = await stack.lm.score("Once upon a", " time");
      assert.ok(score.logprob < 0);
    } finally {
      stack.close();
    }
    const broken = localEngineFactory()("/no/such/model.bin");
    await assert.rejects(broken.generate({ prompt: "x" }), /not found/);
  });
});
