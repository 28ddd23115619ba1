import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { inspect } from "node:util";
import { ApiKeyConfigError, resolveApiKey } from "../../src/lm/api-key.js";
import { generateSamples, LmCapabilityError } from "../../src/lm/language-model.js";
import {
  LmHttpError,
  LmMalformedResponseError,
  LmServerUnreachableError,
  LmTimeoutError,
  type OpenAICompatibleEvent,
  OpenAICompatibleLanguageModel,
  type OpenAICompatibleOptions,
} from "../../src/lm/openai-compatible.js";
import { closedPortUrl, completionBody, type FakeServer, startFakeServer } from "./fake-openai-server.js";

const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

async function serve(handler: Parameters<typeof startFakeServer>[0]): Promise<FakeServer> {
  const server = await startFakeServer(handler);
  servers.push(server);
  return server;
}

/** Options with no key from the real environment, no jitter, and sleeps that are recorded but instant. */
function testOptions(
  baseUrl: string | string[],
  extra: Partial<OpenAICompatibleOptions> = {},
): OpenAICompatibleOptions & { sleeps: number[]; events: OpenAICompatibleEvent[] } {
  const sleeps: number[] = [];
  const events: OpenAICompatibleEvent[] = [];
  return {
    baseUrl,
    model: "test-model",
    env: {},
    random: () => 0,
    backoff: { initialDelayMs: 10, multiplier: 2, maxDelayMs: 1000 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    onEvent: (event) => events.push(event),
    sleeps,
    events,
    ...extra,
  };
}

describe("OpenAICompatibleLanguageModel requests and parsing", () => {
  test("a string prompt goes to /completions with the mapped fields and logprobs are parsed", async () => {
    const server = await serve(() => ({
      body: {
        choices: [
          {
            index: 0,
            text: " Paris.",
            finish_reason: "stop",
            logprobs: {
              tokens: [" Paris", "."],
              token_logprobs: [-0.5, -0.25],
              top_logprobs: [
                { " Paris": -0.5, " Lyon": -1.5 },
                { ".": -0.25, "!": -2 },
              ],
            },
          },
        ],
        usage: { prompt_tokens: 9, completion_tokens: 2 },
      },
    }));
    const lm = new OpenAICompatibleLanguageModel(testOptions(server.baseUrl));
    const response = await lm.generate({
      prompt: "The capital of France is",
      maxTokens: 5,
      temperature: 0.7,
      topP: 0.9,
      stop: ["\n"],
      seed: 3,
      logprobs: 2,
    });
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0].path, "/v1/completions");
    assert.deepEqual(server.requests[0].body, {
      model: "test-model",
      prompt: "The capital of France is",
      max_tokens: 5,
      temperature: 0.7,
      top_p: 0.9,
      n: 1,
      stop: ["\n"],
      seed: 3,
      logprobs: 2,
    });
    assert.equal(server.requests[0].headers.authorization, undefined);
    assert.deepEqual(response, {
      choices: [
        {
          text: " Paris.",
          finishReason: "stop",
          logprobs: [
            {
              token: " Paris",
              logprob: -0.5,
              topLogprobs: [
                { token: " Paris", logprob: -0.5 },
                { token: " Lyon", logprob: -1.5 },
              ],
            },
            {
              token: ".",
              logprob: -0.25,
              topLogprobs: [
                { token: ".", logprob: -0.25 },
                { token: "!", logprob: -2 },
              ],
            },
          ],
        },
      ],
      usage: { promptTokens: 9, completionTokens: 2 },
    });
  });

  test("chat messages go to /chat/completions; chat logprobs and n choices (sorted by index) are parsed", async () => {
    const server = await serve(() => ({
      body: {
        choices: [
          {
            index: 1,
            message: { role: "assistant", content: "B" },
            finish_reason: "length",
            logprobs: { content: [{ token: "B", logprob: -1, top_logprobs: [{ token: "B", logprob: -1 }] }] },
          },
          {
            index: 0,
            message: { role: "assistant", content: "A" },
            finish_reason: "stop",
            logprobs: {
              content: [{ token: "A", logprob: -0.1, top_logprobs: [{ token: "A", logprob: -0.1 }] }],
            },
          },
        ],
        usage: { prompt_tokens: 4, completion_tokens: 2 },
      },
    }));
    const lm = new OpenAICompatibleLanguageModel(testOptions(server.baseUrl));
    const response = await lm.generate({
      prompt: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Letter?" },
      ],
      n: 2,
      maxTokens: 1,
      logprobs: 1,
    });
    assert.equal(server.requests[0].path, "/v1/chat/completions");
    assert.deepEqual(server.requests[0].body, {
      model: "test-model",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Letter?" },
      ],
      max_tokens: 1,
      temperature: 0,
      top_p: 1,
      n: 2,
      logprobs: true,
      top_logprobs: 1,
    });
    assert.deepEqual(
      response.choices.map((choice) => [choice.text, choice.finishReason, choice.logprobs?.[0].logprob]),
      [
        ["A", "stop", -0.1],
        ["B", "length", -1],
      ],
    );
  });

  test("score picks the continuation's tokens by text_offset, sums them and checks greediness", async () => {
    const server = await serve(() => ({
      body: {
        choices: [
          {
            index: 0,
            text: "Paris is in France!",
            logprobs: {
              // "Paris is in" | " France" + generated "!" (max_tokens 1); the continuation is " France"
              tokens: ["Paris", " is", " in", " Fr", "ance", "!"],
              token_logprobs: [null, -1, -0.5, -2, -0.25, -3],
              top_logprobs: [
                null,
                { " is": -1 },
                { " in": -0.5 },
                { " Ger": -1, " Fr": -2 },
                { ance: -0.25 },
                { "!": -3 },
              ],
              text_offset: [0, 5, 8, 11, 14, 18],
            },
          },
        ],
        usage: { prompt_tokens: 5, completion_tokens: 1 },
      },
    }));
    const lm = new OpenAICompatibleLanguageModel(testOptions(server.baseUrl, { server: "vllm" }));
    const result = await lm.score("Paris is in", " France");
    assert.deepEqual(server.requests[0].body, {
      model: "test-model",
      prompt: "Paris is in France",
      max_tokens: 1,
      temperature: 0,
      echo: true,
      logprobs: 1,
    });
    assert.deepEqual(result, {
      logprob: -2.25,
      tokens: [" Fr", "ance"],
      tokenLogprobs: [-2, -0.25],
      isGreedy: false,
      usage: { promptTokens: 5, completionTokens: 1 },
    });
  });

  test("score without text_offset reconstructs offsets from the tokens; a straddling token counts", async () => {
    const server = await serve(() => ({
      body: {
        choices: [
          {
            index: 0,
            text: "ab cd",
            logprobs: {
              // the prompt is "ab c" and the continuation "d": token " cd" straddles the boundary
              tokens: ["ab", " cd"],
              token_logprobs: [null, -0.75],
              top_logprobs: [null, { " cd": -0.75 }],
            },
          },
        ],
      },
    }));
    const lm = new OpenAICompatibleLanguageModel(
      testOptions(server.baseUrl, { server: "vllm", scoreMaxTokens: 0 }),
    );
    const result = await lm.score("ab c", "d");
    assert.equal(server.requests[0].body.max_tokens, 0);
    assert.deepEqual(result.tokens, [" cd"]);
    assert.equal(result.logprob, -0.75);
    assert.equal(result.isGreedy, true);
    assert.deepEqual(result.usage, { promptTokens: 2, completionTokens: 0 });
  });

  test("capabilities: score and n are refused where undeclared; generateSamples then sends seeded requests", async () => {
    const server = await serve((request) => ({ body: completionBody([`sample seed ${request.body.seed}`]) }));
    const lm = new OpenAICompatibleLanguageModel(testOptions(server.baseUrl, { server: "llama.cpp" }));
    await assert.rejects(lm.score("a", "b"), LmCapabilityError);
    await assert.rejects(lm.generate({ prompt: "x", n: 3 }), LmCapabilityError);
    assert.equal(server.requests.length, 0);
    const response = await generateSamples(lm, { prompt: "x", n: 3, temperature: 0.8, seed: 7 });
    assert.deepEqual(
      server.requests.map((request) => [request.body.n, request.body.seed]),
      [
        [1, 7],
        [1, 8],
        [1, 9],
      ],
    );
    assert.deepEqual(
      response.choices.map((choice) => choice.text),
      ["sample seed 7", "sample seed 8", "sample seed 9"],
    );
    assert.deepEqual(response.usage, { promptTokens: 15, completionTokens: 9 });
  });

  test("malformed answers raise LmMalformedResponseError naming the URL", async () => {
    let reply: unknown = { foo: 1 };
    const server = await serve(() => ({ body: reply }));
    const lm = new OpenAICompatibleLanguageModel(testOptions(server.baseUrl, { maxRetries: 0 }));
    await assert.rejects(lm.generate({ prompt: "x" }), (error: unknown) => {
      assert.ok(error instanceof LmMalformedResponseError);
      assert.match(error.message, /choices/);
      assert.match(error.message, new RegExp(`${server.baseUrl}/completions`));
      return true;
    });
    reply = "<html>not json</html>";
    await assert.rejects(lm.generate({ prompt: "x" }), LmMalformedResponseError);
  });
});

describe("OpenAICompatibleLanguageModel retries, timeouts and errors", () => {
  test("429 then 200: one retry that waits what retry-after-ms asks", async () => {
    const server = await serve((request) =>
      request.index === 0
        ? { status: 429, headers: { "retry-after-ms": "7" }, body: { error: { message: "slow down" } } }
        : { body: completionBody(["ok"]) },
    );
    const options = testOptions(server.baseUrl);
    const lm = new OpenAICompatibleLanguageModel(options);
    const response = await lm.generate({ prompt: "x" });
    assert.equal(response.choices[0].text, "ok");
    assert.equal(server.requests.length, 2);
    assert.deepEqual(options.sleeps, [7]);
    const retries = options.events.filter((event) => event.type === "retry");
    assert.deepEqual(
      retries.map((event) => (event.type === "retry" ? [event.attempt, event.reason] : [])),
      [[1, "HTTP 429"]],
    );
  });

  test("Retry-After in seconds is honoured and capped by maxDelayMs", async () => {
    const server = await serve((request) =>
      request.index === 0
        ? { status: 503, headers: { "retry-after": "120" }, body: "busy" }
        : { body: completionBody(["ok"]) },
    );
    const options = testOptions(server.baseUrl, { backoff: { initialDelayMs: 10, maxDelayMs: 500 } });
    await new OpenAICompatibleLanguageModel(options).generate({ prompt: "x" });
    assert.deepEqual(options.sleeps, [500]);
  });

  test("persistent 500: maxRetries + 1 attempts with exponential backoff, then LmHttpError", async () => {
    const server = await serve(() => ({ status: 500, body: { message: "engine exploded" } }));
    const options = testOptions(server.baseUrl, { maxRetries: 3 });
    const lm = new OpenAICompatibleLanguageModel(options);
    await assert.rejects(lm.generate({ prompt: "x" }), (error: unknown) => {
      assert.ok(error instanceof LmHttpError);
      assert.equal(error.status, 500);
      assert.equal(error.serverMessage, "engine exploded");
      assert.match(error.message, /after 4 attempts/);
      assert.match(error.message, /engine exploded/);
      return true;
    });
    assert.equal(server.requests.length, 4);
    assert.deepEqual(options.sleeps, [10, 20, 40]);
  });

  test("jitter scales the backoff delay down by up to the jitter fraction", async () => {
    const server = await serve((request) =>
      request.index < 2 ? { status: 502, body: "bad gateway" } : { body: completionBody(["ok"]) },
    );
    const options = testOptions(server.baseUrl, {
      random: () => 0.5,
      backoff: { initialDelayMs: 100, multiplier: 3, jitter: 0.5 },
    });
    await new OpenAICompatibleLanguageModel(options).generate({ prompt: "x" });
    assert.deepEqual(options.sleeps, [75, 225]);
  });

  test("4xx other than 429 is not retried and carries the server's message", async () => {
    const server = await serve(() => ({
      status: 400,
      body: { error: { message: "max_tokens is too large: 99999" } },
    }));
    const options = testOptions(server.baseUrl);
    await assert.rejects(
      new OpenAICompatibleLanguageModel(options).generate({ prompt: "x", maxTokens: 99999 }),
      (error: unknown) => {
        assert.ok(error instanceof LmHttpError);
        assert.equal(error.status, 400);
        assert.equal(error.code, "LM_HTTP");
        assert.match(error.message, /HTTP 400: max_tokens is too large: 99999/);
        return true;
      },
    );
    assert.equal(server.requests.length, 1);
    assert.deepEqual(options.sleeps, []);
  });

  test("a slow server times out on every attempt: LmTimeoutError after maxRetries + 1 attempts", async () => {
    const server = await serve(() => ({ delayMs: 5_000, body: completionBody(["late"]) }));
    const options = testOptions(server.baseUrl, { timeoutMs: 40, maxRetries: 1 });
    await assert.rejects(
      new OpenAICompatibleLanguageModel(options).generate({ prompt: "x" }),
      (error: unknown) => {
        assert.ok(error instanceof LmTimeoutError);
        assert.match(error.message, /within 40 ms on any of 2 attempts/);
        return true;
      },
    );
    // counted where they are sent: under load the server may not have read an aborted request's body
    assert.equal(options.events.filter((event) => event.type === "request").length, 2);
    assert.ok(server.requests.length <= 2);
  });

  test("a closed port: LmServerUnreachableError naming the URL and what to check", async () => {
    const url = await closedPortUrl();
    const options = testOptions(url, { maxRetries: 2 });
    await assert.rejects(
      new OpenAICompatibleLanguageModel(options).generate({ prompt: "x" }),
      (error: unknown) => {
        assert.ok(error instanceof LmServerUnreachableError);
        assert.equal(error.url, `${url}/completions`);
        assert.match(error.message, /ECONNREFUSED/);
        assert.match(error.message, /check that the server is running/);
        assert.match(error.message, /on any of 3 attempts/);
        return true;
      },
    );
    assert.equal(options.sleeps.length, 2);
  });

  test("an aborted call stops without retrying", async () => {
    const server = await serve(() => ({ delayMs: 5_000, body: completionBody(["late"]) }));
    const controller = new AbortController();
    const options = testOptions(server.baseUrl, { timeoutMs: 10_000 });
    const lm = new OpenAICompatibleLanguageModel(options);
    const pending = lm.generate({ prompt: "x" }, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("user stopped")), 20);
    await assert.rejects(pending, /user stopped/);
    assert.equal(options.events.filter((event) => event.type === "request").length, 1);
    assert.deepEqual(options.sleeps, []);
    await assert.rejects(lm.generate({ prompt: "y" }, { signal: controller.signal }), /user stopped/);
    assert.equal(options.events.filter((event) => event.type === "request").length, 1);
  });
});

describe("OpenAICompatibleLanguageModel limits and load balancing", () => {
  test("the concurrency limit bounds the requests the server sees in flight", async () => {
    const server = await serve((request) => ({ delayMs: 20, body: completionBody([`r${request.index}`]) }));
    const lm = new OpenAICompatibleLanguageModel(testOptions(server.baseUrl, { maxConcurrency: 2 }));
    const responses = await Promise.all(
      Array.from({ length: 6 }, (_, i) => lm.generate({ prompt: `p${i}` })),
    );
    assert.equal(responses.length, 6);
    assert.equal(server.requests.length, 6);
    assert.ok(server.maxInFlight <= 2, `server saw ${server.maxInFlight} in flight`);
    assert.ok(server.maxInFlight >= 1);
    assert.equal(lm.inFlight, 0);
  });

  test("the rate limit delays starts beyond `requestsPerMinute` per window (fake clock)", async () => {
    const server = await serve(() => ({ body: completionBody(["ok"]) }));
    let now = 0;
    const options = testOptions(server.baseUrl, {
      requestsPerMinute: 2,
      rateLimitWindowMs: 1000,
      clock: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    });
    const lm = new OpenAICompatibleLanguageModel(options);
    await Promise.all(Array.from({ length: 5 }, (_, i) => lm.generate({ prompt: `p${i}` })));
    assert.equal(server.requests.length, 5);
    assert.equal(now, 2000);
    const waits = options.events.flatMap((event) =>
      event.type === "rate-limit-wait" ? [event.waitedMs] : [],
    );
    assert.deepEqual(waits, [1000, 1000]);
  });

  test("round-robin spreads requests evenly over base URLs", async () => {
    const a = await serve(() => ({ body: completionBody(["a"]) }));
    const b = await serve(() => ({ body: completionBody(["b"]) }));
    const lm = new OpenAICompatibleLanguageModel(testOptions([a.baseUrl, b.baseUrl]));
    const texts: string[] = [];
    for (let i = 0; i < 4; i++) texts.push((await lm.generate({ prompt: "x" })).choices[0].text);
    assert.deepEqual(texts, ["a", "b", "a", "b"]);
  });

  test("least-busy sends to the base URL with fewer requests in flight", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // the slow server answers only when the test lets it, so it stays busy for the whole test
    const slow = await serve(async () => {
      await gate;
      return { body: completionBody(["slow"]) };
    });
    const fast = await serve(() => ({ body: completionBody(["fast"]) }));
    const lm = new OpenAICompatibleLanguageModel(
      testOptions([slow.baseUrl, fast.baseUrl], { loadBalancing: "least-busy" }),
    );
    const pendingSlow = lm.generate({ prompt: "first" });
    const texts: string[] = [];
    for (let i = 0; i < 3; i++) texts.push((await lm.generate({ prompt: "x" })).choices[0].text);
    release();
    assert.equal((await pendingSlow).choices[0].text, "slow");
    assert.deepEqual(texts, ["fast", "fast", "fast"]);
    assert.equal(slow.requests.length, 1);
  });

  test("a network failure on one base URL is retried on the next", async () => {
    const dead = await closedPortUrl();
    const live = await serve(() => ({ body: completionBody(["alive"]) }));
    const options = testOptions([dead, live.baseUrl]);
    const response = await new OpenAICompatibleLanguageModel(options).generate({ prompt: "x" });
    assert.equal(response.choices[0].text, "alive");
    assert.equal(options.sleeps.length, 1);
  });
});

describe("API keys", () => {
  const secret = "sk-test-SECRET-0123456789abcdef";

  test("the key is sent as a bearer token and redacted from errors, inspection and stacks", async () => {
    const server = await serve(() => ({
      status: 401,
      body: {
        error: { message: `Incorrect API key provided: ${secret}. Also ${secret.slice(0, 10)}***cdef` },
      },
    }));
    const lm = new OpenAICompatibleLanguageModel(
      testOptions(server.baseUrl, { env: { OPENAI_API_KEY: secret } }),
    );
    let caught: unknown;
    try {
      await lm.generate({ prompt: "x" });
    } catch (error) {
      caught = error;
    }
    assert.equal(server.requests[0].headers.authorization, `Bearer ${secret}`);
    assert.ok(caught instanceof LmHttpError);
    assert.match(caught.message, /\[REDACTED\]/);
    assert.match(caught.message, /OPENAI_API_KEY/);
    for (const text of [
      caught.message,
      caught.stack ?? "",
      JSON.stringify(caught),
      inspect(caught, { depth: 5 }),
      inspect(lm, { depth: 5 }),
      JSON.stringify(lm),
    ]) {
      assert.ok(!text.includes(secret), "the key leaked");
      assert.ok(!text.includes(secret.slice(0, 8)), "the key's prefix leaked");
    }
  });

  test("the key comes from a named environment variable, else from a config file", () => {
    const dir = mkdtempSync(join(tmpdir(), "adaptlm-key-"));
    try {
      assert.equal(resolveApiKey({ apiKeyEnv: "MY_KEY", env: { MY_KEY: " k1 " } }), "k1");
      assert.equal(resolveApiKey({ env: {} }), undefined);
      const jsonFile = join(dir, "key.json");
      writeFileSync(jsonFile, JSON.stringify({ apiKey: "k2" }));
      assert.equal(resolveApiKey({ env: {}, apiKeyFile: jsonFile }), "k2");
      const textFile = join(dir, "key.txt");
      writeFileSync(textFile, "k3\n");
      assert.equal(resolveApiKey({ env: {}, apiKeyFile: textFile }), "k3");
      assert.equal(resolveApiKey({ env: { OPENAI_API_KEY: "env-wins" }, apiKeyFile: textFile }), "env-wins");
      const badFile = join(dir, "bad.json");
      writeFileSync(badFile, JSON.stringify({ token: "x" }));
      assert.throws(() => resolveApiKey({ env: {}, apiKeyFile: badFile }), ApiKeyConfigError);
      assert.throws(() => resolveApiKey({ env: {}, apiKeyFile: join(dir, "missing") }), /ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("server checks", () => {
  test("checkServers lists the models of every base URL and names a missing model", async () => {
    const server = await serve(() => ({ body: {} }));
    const listing = await serve((request) =>
      request.path === "/v1/models"
        ? { body: { object: "list", data: [{ id: "test-model" }, { id: "other" }] } }
        : { body: {} },
    );
    const lm = new OpenAICompatibleLanguageModel(testOptions(listing.baseUrl));
    assert.deepEqual(await lm.checkServers(), [
      { baseUrl: listing.baseUrl, models: ["test-model", "other"] },
    ]);
    const wrong = new OpenAICompatibleLanguageModel(testOptions(listing.baseUrl, { model: "nope" }));
    await assert.rejects(
      wrong.checkServers(),
      /does not serve model "nope"; it serves \[test-model, other\]/,
    );
    await assert.rejects(
      new OpenAICompatibleLanguageModel(testOptions(server.baseUrl)).checkServers(),
      LmMalformedResponseError,
    );
    const dead = await closedPortUrl();
    await assert.rejects(
      new OpenAICompatibleLanguageModel(testOptions(dead)).checkServers(),
      LmServerUnreachableError,
    );
  });

  test("a 200 answer holding an error object is reported with its message", async () => {
    const server = await serve(() => ({ body: { error: { message: "model is loading" } } }));
    await assert.rejects(
      new OpenAICompatibleLanguageModel(testOptions(server.baseUrl)).generate({ prompt: "x" }),
      /answered 200 with an error instead of choices: model is loading/,
    );
  });
});
