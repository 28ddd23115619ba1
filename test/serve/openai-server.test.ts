// `adaptlm serve`'s server on stories260K, exercised through adaptlm's own OpenAI-compatible backend (the
// scenarios of its tests: completions with logprobs, chat with n and logprobs, score by echo, n/seed, stop,
// checkServers, errors) and with raw HTTP for SSE streaming and the limits.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { LocalLanguageModel } from "../../src/lm/local-engine.js";
import { LmHttpError, OpenAICompatibleLanguageModel } from "../../src/lm/openai-compatible.js";
import { loadModel } from "../../src/models/load-model.js";
import { type RunningServer, startOpenAIServer } from "../../src/serve/openai-server.js";
import { stories260K } from "../models/model-fixtures.js";

const loaded = await loadModel(stories260K.checkpoint, { tokenizer: stories260K.tokenizer });
const local = new LocalLanguageModel(loaded, { name: "stories" });
let running: RunningServer;
let client: OpenAICompatibleLanguageModel;

before(async () => {
  running = await startOpenAIServer(loaded, {
    modelName: "stories",
    port: 0,
    maxQueue: 2,
    maxTokens: 256,
    maxBodyBytes: 4096,
    // stories260K has no chat template: chat uses the opted-in plain transcript
    plainChat: true,
  });
  client = new OpenAICompatibleLanguageModel({
    baseUrl: running.url,
    model: "stories",
    server: "vllm",
    maxRetries: 0,
  });
});
after(() => running.close());

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${running.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** The data payloads of an SSE response, up to [DONE]. */
async function events(response: Response): Promise<Record<string, unknown>[]> {
  const text = await response.text();
  const data = text
    .split("\n\n")
    .filter((block) => block.startsWith("data: "))
    .map((block) => block.slice("data: ".length));
  assert.equal(data[data.length - 1], "[DONE]");
  return data.slice(0, -1).map((d) => JSON.parse(d) as Record<string, unknown>);
}

describe("adaptlm serve (OpenAI-compatible server)", () => {
  test("binds 127.0.0.1 and lists its model; checkServers finds it", async () => {
    assert.match(running.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const models = (await (await fetch(`${running.url}/models`)).json()) as { data: { id: string }[] };
    assert.deepEqual(
      models.data.map((m) => m.id),
      ["stories"],
    );
    const [check] = await client.checkServers();
    assert.deepEqual(check.models, ["stories"]);
  });

  test("completions through the HTTP backend equal the local engine: text, logprobs, n with seeds, stop", async () => {
    for (const request of [
      { prompt: "Once upon a time", maxTokens: 16, logprobs: 2 },
      { prompt: "Lily", maxTokens: 12, temperature: 1, seed: 4, n: 3, logprobs: 0 },
      { prompt: "Once upon a time", maxTokens: 40, stop: ["."] },
    ]) {
      const remote = await client.generate(request);
      const direct = await local.generate(request);
      assert.equal(remote.choices.length, direct.choices.length);
      remote.choices.forEach((choice, i) => {
        assert.equal(choice.text, direct.choices[i].text);
        assert.equal(choice.finishReason, direct.choices[i].finishReason);
        assert.deepEqual(choice.logprobs, direct.choices[i].logprobs);
      });
      assert.deepEqual(remote.usage, direct.usage);
    }
  });

  test("score by echo + logprobs equals the local engine's score", async () => {
    for (const [prompt, continuation] of [
      ["Once upon a", " time"],
      ["Once upon a", " dog"],
      ["Lily went to the", " park."],
    ]) {
      const remote = await client.score(prompt, continuation);
      const direct = await local.score(prompt, continuation);
      assert.ok(Math.abs(remote.logprob - direct.logprob) < 1e-4, `${prompt}|${continuation}`);
      assert.deepEqual(remote.tokens, direct.tokens);
      assert.equal(remote.isGreedy, direct.isGreedy);
    }
  });

  test("chat: n choices with logprobs; the fallback template's turn marker stops generation", async () => {
    const response = await client.generate({
      prompt: [{ role: "user", content: "Tell me a story." }],
      maxTokens: 10,
      temperature: 1,
      seed: 1,
      n: 2,
      logprobs: 1,
    });
    assert.equal(response.choices.length, 2);
    for (const choice of response.choices) {
      assert.ok(!choice.text.includes("\nuser:"));
      assert.ok((choice.logprobs?.length ?? 0) > 0);
      assert.equal(choice.logprobs?.[0].topLogprobs?.length, 1);
    }
  });

  test("SSE streaming: chunks concatenate to the non-streamed text, then [DONE]", async () => {
    const body = { model: "stories", prompt: "Once upon a time", max_tokens: 30, temperature: 0 };
    const whole = (await (await post("/completions", body)).json()) as {
      choices: { text: string; finish_reason: string }[];
    };
    const streamed = await post("/completions", { ...body, stream: true });
    assert.match(streamed.headers.get("content-type") ?? "", /text\/event-stream/);
    const chunks = await events(streamed);
    const text = chunks.map((c) => (c.choices as { text: string }[])[0].text).join("");
    assert.equal(text, whole.choices[0].text);
    assert.ok(chunks.length > 3, "more than one chunk");
    assert.equal(
      (chunks[chunks.length - 1].choices as { finish_reason: string }[])[0].finish_reason,
      whole.choices[0].finish_reason,
    );
    const chat = await events(
      await post("/chat/completions", {
        messages: [{ role: "user", content: "Hi" }],
        max_tokens: 8,
        temperature: 0,
        stream: true,
      }),
    );
    assert.equal((chat[0].choices as { delta: { role: string } }[])[0].delta.role, "assistant");
    assert.equal(chat[0].object, "chat.completion.chunk");
  });

  test("clear 4xx errors: unknown model, bad fields, limits, oversized body, bad JSON, unknown route", async () => {
    const cases: [Response, number, RegExp][] = [
      [await post("/completions", { model: "other", prompt: "x" }), 404, /serves "stories"/],
      [
        await post("/completions", { model: "stories", prompt: "x", max_tokens: 100000 }),
        400,
        /max_tokens.*<= 256/,
      ],
      [await post("/completions", { model: "stories", prompt: "x", n: 0 }), 400, /"n" must be >= 1/],
      [await post("/completions", { model: "stories", prompt: 5 }), 400, /"prompt" must be a string/],
      [
        await post("/completions", { model: "stories", prompt: "x".repeat(5000) }),
        413,
        /limit of 4096 bytes/,
      ],
      [await post("/completions", "{not json"), 400, /JSON object/],
      [await post("/embeddings", { input: "x" }), 404, /no route/],
    ];
    for (const [response, status, message] of cases) {
      assert.equal(response.status, status);
      const body = (await response.json()) as { error: { message: string } };
      assert.match(body.error.message, message);
    }
    await assert.rejects(
      client.generate({ prompt: "x", maxTokens: 1000 }),
      (e: unknown) => e instanceof LmHttpError && e.status === 400,
    );
  });

  test("queue limit: with 2 requests in the system a third gets 429 at once", async () => {
    const slow = {
      model: "stories",
      prompt: "Once upon a time",
      max_tokens: 200,
      temperature: 0,
      stream: true,
    };
    const first = await post("/completions", slow);
    const reader = first.body?.getReader();
    await reader?.read(); // the first is generating now
    const secondPromise = post("/completions", slow);
    // Let the second request reach the queue before the third.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const third = await post("/completions", { model: "stories", prompt: "x", max_tokens: 1 });
    assert.equal(third.status, 429);
    assert.match(((await third.json()) as { error: { message: string } }).error.message, /busy/);
    while (!(await reader?.read())?.done) {
      // drain the first
    }
    const second = await secondPromise;
    assert.equal(second.status, 200);
    await second.text();
  });

  test("an API key, when set, is required", async () => {
    const guarded = await startOpenAIServer(loaded, {
      modelName: "stories",
      port: 0,
      apiKey: "sk-local-test",
    });
    try {
      const refused = await fetch(`${guarded.url}/models`);
      assert.equal(refused.status, 401);
      const ok = await fetch(`${guarded.url}/models`, { headers: { authorization: "Bearer sk-local-test" } });
      assert.equal(ok.status, 200);
    } finally {
      await guarded.close();
    }
  });
});
