import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { generateSamples } from "../../src/lm/language-model.js";
import { LmHttpError, OpenAICompatibleLanguageModel } from "../../src/lm/openai-compatible.js";
import { CachedLanguageModel, ResponseCache } from "../../src/lm/response-cache.js";
import { BudgetExceededError, UsageMeter } from "../../src/lm/usage-meter.js";
import { completionBody, type FakeServer, startFakeServer } from "./fake-openai-server.js";
import { ScriptedLanguageModel } from "./scripted-language-model.js";

const dir = mkdtempSync(join(tmpdir(), "adaptlm-cache-"));
const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
  rmSync(dir, { recursive: true, force: true });
});

function counter(): ScriptedLanguageModel {
  let made = 0;
  return new ScriptedLanguageModel({
    model: "m",
    generate: (request, sample) =>
      `${request.prompt} #${made++} (sample ${sample}, seed ${request.seed ?? "-"})`,
    score: (_prompt, continuation) => -continuation.length,
  });
}

describe("CachedLanguageModel", () => {
  test("the same request is answered from the cache; another seed or prompt is a miss", async () => {
    const cache = new ResponseCache(join(dir, "a", "cache.sqlite"));
    const inner = counter();
    const lm = new CachedLanguageModel(inner, cache);
    const first = await lm.generate({ prompt: "q", temperature: 0.7, seed: 1 });
    const again = await lm.generate({ prompt: "q", temperature: 0.7, seed: 1 });
    assert.equal(again.cached, true);
    assert.deepEqual(again.choices, first.choices);
    assert.deepEqual(again.usage, first.usage);
    const reseeded = await lm.generate({ prompt: "q", temperature: 0.7, seed: 2 });
    assert.notDeepEqual(reseeded.choices, first.choices);
    await lm.generate({ prompt: "q2", temperature: 0.7, seed: 1 });
    await lm.generate({ prompt: "q", temperature: 0.8, seed: 1 });
    assert.equal(inner.calls.length, 4);
    assert.deepEqual(lm.stats, { hits: 1, misses: 4 });
    cache.close();
  });

  test("a namespace separates models of the same name", async () => {
    const cache = new ResponseCache(":memory:");
    const innerA = counter();
    const innerB = counter();
    const a = new CachedLanguageModel(innerA, cache, { namespace: "server-a" });
    const b = new CachedLanguageModel(innerB, cache, { namespace: "server-b" });
    await a.generate({ prompt: "q" });
    await b.generate({ prompt: "q" });
    await a.score("p", " c");
    await b.score("p", " c");
    assert.equal(innerA.calls.length, 2);
    assert.equal(innerB.calls.length, 2);
    assert.equal(cache.count("m"), 4);
    assert.equal(
      (await new CachedLanguageModel(counter(), cache, { namespace: "server-a" }).generate({ prompt: "q" }))
        .cached,
      true,
    );
  });

  test("samples are keyed by index: a larger n reuses the stored samples", async () => {
    const cache = new ResponseCache(":memory:");
    const inner = counter();
    const lm = new CachedLanguageModel(inner, cache);
    const two = await lm.generate({ prompt: "q", temperature: 1, n: 2 });
    const four = await lm.generate({ prompt: "q", temperature: 1, n: 4 });
    assert.deepEqual(four.choices.slice(0, 2), two.choices);
    assert.equal(four.choices[2].text, "q #4 (sample 2, seed -)");
    assert.equal(four.choices.length, 4);
    const three = await lm.generate({ prompt: "q", temperature: 1, n: 3 });
    assert.equal(three.cached, true);
    assert.deepEqual(three.choices, four.choices.slice(0, 3));
    assert.equal(inner.calls.length, 2);
    assert.equal(cache.count("m"), 4);
  });

  test("seeded separate samples (no n support) are each cached under their seed", async () => {
    const inner = new ScriptedLanguageModel({
      model: "m",
      capabilities: { n: false },
      generate: (request) => `seed ${request.seed}`,
    });
    const lm = new CachedLanguageModel(inner, new ResponseCache(":memory:"));
    await generateSamples(lm, { prompt: "q", n: 3, temperature: 1, seed: 10 });
    const more = await generateSamples(lm, { prompt: "q", n: 5, temperature: 1, seed: 10 });
    assert.deepEqual(
      more.choices.map((choice) => choice.text),
      ["seed 10", "seed 11", "seed 12", "seed 13", "seed 14"],
    );
    assert.equal(inner.calls.length, 5);
    assert.deepEqual(lm.stats, { hits: 3, misses: 5 });
  });

  test("scores are cached; identical calls in flight together are sent once", async () => {
    const inner = counter();
    const lm = new CachedLanguageModel(inner, new ResponseCache(":memory:"));
    const [a, b] = await Promise.all([lm.score("ctx", " yes"), lm.score("ctx", " yes")]);
    assert.equal(a.logprob, -4);
    assert.equal(b.cached, true);
    const c = await lm.score("ctx", " yes");
    assert.equal(c.cached, true);
    assert.equal(c.logprob, -4);
    await Promise.all([lm.generate({ prompt: "p" }), lm.generate({ prompt: "p" })]);
    assert.equal(inner.calls.length, 2);
  });

  test("an interrupted evaluation resumes from the cache file and pays for nothing twice", async () => {
    let failAt = 3;
    const server = await startFakeServer((request) => {
      if (request.index === failAt) return { status: 500, body: { message: "node lost" } };
      return { body: completionBody([`answer to ${request.body.prompt}`]) };
    });
    servers.push(server);
    const path = join(dir, "resume", "cache.sqlite");
    const prompts = Array.from({ length: 6 }, (_, i) => `question ${i}`);
    const run = async (): Promise<string[]> => {
      const cache = new ResponseCache(path);
      try {
        const http = new OpenAICompatibleLanguageModel({
          baseUrl: server.baseUrl,
          model: "m",
          env: {},
          maxRetries: 0,
        });
        const lm = new CachedLanguageModel(http, cache);
        const answers: string[] = [];
        for (const prompt of prompts)
          answers.push((await lm.generate({ prompt, maxTokens: 8 })).choices[0].text);
        return answers;
      } finally {
        cache.close();
      }
    };
    await assert.rejects(run(), LmHttpError);
    assert.equal(server.requests.length, 4); // 3 answered + the failed one
    failAt = -1;
    const answers = await run();
    assert.deepEqual(
      answers,
      prompts.map((prompt) => `answer to ${prompt}`),
    );
    // the second run asked only for questions 3, 4 and 5
    assert.deepEqual(
      server.requests.map((request) => request.body.prompt),
      ["question 0", "question 1", "question 2", "question 3", "question 3", "question 4", "question 5"],
    );
    await run();
    assert.equal(server.requests.length, 7);
  });

  test("the cache file never holds the API key", async () => {
    const secret = "sk-cache-SECRET-abcdef0123456789";
    const server = await startFakeServer(() => ({ body: completionBody(["fine"]) }));
    servers.push(server);
    const path = join(dir, "secret", "cache.sqlite");
    const cache = new ResponseCache(path);
    const http = new OpenAICompatibleLanguageModel({
      baseUrl: server.baseUrl,
      model: "m",
      env: { OPENAI_API_KEY: secret },
    });
    await new CachedLanguageModel(http, cache).generate({ prompt: "hello" });
    cache.close();
    assert.equal(server.requests[0].headers.authorization, `Bearer ${secret}`);
    for (const file of readdirSync(join(dir, "secret"))) {
      assert.ok(!readFileSync(join(dir, "secret", file)).includes(secret), `${file} holds the key`);
    }
  });

  test("under a budget, the answer that passed it is still cached; cache hits cost nothing", async () => {
    const inner = new ScriptedLanguageModel({
      model: "m",
      generate: (request) => `long answer for ${request.prompt}`,
    });
    const meter = new UsageMeter({
      prices: { m: { inputPerMillion: 1_000_000, outputPerMillion: 1_000_000 } },
      budget: 4,
      estimateTokens: () => 0,
    });
    const lm = new CachedLanguageModel(meter.wrap(inner), new ResponseCache(":memory:"));
    await assert.rejects(lm.generate({ prompt: "p", maxTokens: 3 }), BudgetExceededError);
    const again = await lm.generate({ prompt: "p", maxTokens: 3 });
    assert.equal(again.cached, true);
    assert.equal(again.choices[0].text, "long answer for p");
    assert.equal(inner.calls.length, 1);
    assert.equal(meter.snapshot().requests, 1);
  });
});
