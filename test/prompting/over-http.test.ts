// The strategies over the real HTTP stack: a fake vLLM-like server (echo scoring, n samples with logprobs),
// the OpenAI-compatible backend, the usage meter and the response cache, composed as a run would compose them.

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { OpenAICompatibleLanguageModel } from "../../src/lm/openai-compatible.js";
import { CachedLanguageModel, ResponseCache } from "../../src/lm/response-cache.js";
import { UsageMeter } from "../../src/lm/usage-meter.js";
import { extractCotAnswer } from "../../src/prompting/chain-of-thought.js";
import type { LabelledExample } from "../../src/prompting/example.js";
import { classifyFewShot } from "../../src/prompting/few-shot.js";
import { selfConsistency } from "../../src/prompting/self-consistency.js";
import { type FakeServer, type RecordedRequest, startFakeServer } from "../lm/fake-openai-server.js";

/** Whitespace-led tokens with their character offsets: "a bc" -> ["a", " bc"]. */
function tokenize(text: string): { tokens: string[]; offsets: number[] } {
  const tokens: string[] = [];
  const offsets: number[] = [];
  for (const match of text.matchAll(/\s*\S+/g)) {
    tokens.push(match[0]);
    offsets.push(match.index ?? 0);
  }
  return { tokens, offsets };
}

/** A vLLM stand-in: echo scoring says " positive" is likely after "good" reviews; sampling gives CoT answers. */
function vllm(request: RecordedRequest): { body: unknown } {
  const body = request.body;
  const prompt = String(body.prompt);
  if (body.echo === true) {
    const { tokens, offsets } = tokenize(prompt);
    const lastReview = prompt.slice(prompt.lastIndexOf("Review:"));
    const good = /good|great/.test(lastReview);
    const logprobs = tokens.map((token, i) => {
      if (i === 0) return null;
      if (token === " positive") return good ? -0.2 : -2;
      if (token === " negative") return good ? -2 : -0.2;
      return -1;
    });
    return {
      body: {
        choices: [
          {
            index: 0,
            text: `${prompt} x`,
            logprobs: {
              tokens: [...tokens, " x"],
              token_logprobs: [...logprobs, -5],
              top_logprobs: [null, ...tokens.slice(1).map((token) => ({ [token]: -0.1 })), { " x": -5 }],
              text_offset: [...offsets, prompt.length],
            },
          },
        ],
        usage: { prompt_tokens: tokens.length, completion_tokens: 1 },
      },
    };
  }
  const n = Number(body.n);
  const answers = ["12", "12", "15", "15", "15"];
  return {
    body: {
      choices: Array.from({ length: n }, (_, index) => {
        const confident = answers[index] === "12";
        return {
          index,
          text: ` Some steps. The answer is ${answers[index]}.`,
          finish_reason: "stop",
          logprobs: {
            tokens: [" Some", " steps."],
            token_logprobs: confident ? [-0.05, -0.05] : [-3, -3],
            top_logprobs: null,
          },
        };
      }),
      usage: { prompt_tokens: 10, completion_tokens: 6 * n },
    },
  };
}

const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

describe("strategies over HTTP with meter and cache", () => {
  test("few-shot classification by echo scoring; a rerun is served from the cache and costs nothing", async () => {
    const server = await startFakeServer(vllm);
    servers.push(server);
    const meter = new UsageMeter({ prices: { m: { inputPerMillion: 1, outputPerMillion: 2 } }, budget: 1 });
    const http = new OpenAICompatibleLanguageModel({
      baseUrl: server.baseUrl,
      model: "m",
      server: "vllm",
      env: {},
    });
    const lm = new CachedLanguageModel(meter.wrap(http), new ResponseCache(":memory:"));
    const template = {
      name: "t",
      input: "Review: {{text}}\nSentiment:",
      verbalizer: { pos: "positive", neg: "negative" },
    };
    const pool: LabelledExample[] = [
      { id: "1", fields: { text: "great" }, label: "pos" },
      { id: "2", fields: { text: "bad" }, label: "neg" },
    ];
    const queries: LabelledExample[] = [
      { id: "q1", fields: { text: "really good" }, label: "pos" },
      { id: "q2", fields: { text: "boring" }, label: "neg" },
    ];
    const run = async (): Promise<Array<string | undefined>> => {
      const labels: Array<string | undefined> = [];
      for (const query of queries) {
        const { result } = await classifyFewShot(lm, template, pool, query, {
          labels: ["pos", "neg"],
          k: 2,
          selection: "fixed",
          ids: ["1", "2"],
        });
        labels.push(result.label);
      }
      return labels;
    };
    assert.deepEqual(await run(), ["pos", "neg"]);
    assert.equal(server.requests.length, 4);
    assert.deepEqual(server.requests[0].body, {
      model: "m",
      prompt:
        "Review: great\nSentiment: positive\n\nReview: bad\nSentiment: negative\n\nReview: really good\nSentiment: positive",
      max_tokens: 1,
      temperature: 0,
      echo: true,
      logprobs: 1,
    });
    const spent = meter.snapshot();
    assert.equal(spent.requests, 4);
    assert.deepEqual(await run(), ["pos", "neg"]);
    assert.equal(server.requests.length, 4);
    assert.deepEqual(meter.snapshot(), spent);
  });

  test("self-consistency asks once with n and logprobs; majority and weighted votes differ as the logprobs say", async () => {
    const server = await startFakeServer(vllm);
    servers.push(server);
    const lm = new OpenAICompatibleLanguageModel({
      baseUrl: server.baseUrl,
      model: "m",
      server: "vllm",
      env: {},
    });
    const result = await selfConsistency(
      lm,
      { prompt: "Q: ?\nA:", maxTokens: 64 },
      (text) => extractCotAnswer(text, { answerType: "number" }),
      { samples: 5, temperature: 0.7, seed: 1 },
    );
    assert.equal(server.requests.length, 1);
    assert.deepEqual(server.requests[0].body, {
      model: "m",
      prompt: "Q: ?\nA:",
      max_tokens: 64,
      temperature: 0.7,
      top_p: 1,
      n: 5,
      seed: 1,
      logprobs: 0,
    });
    assert.equal(result.majority, "15");
    assert.equal(result.weighted, "12");
    assert.deepEqual(result.distribution, { 15: 0.6, 12: 0.4 });
  });
});
