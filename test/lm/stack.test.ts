import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { buildLanguageModelStack, LmTargetError } from "../../src/lm/stack.js";
import { completionBody, type FakeServer, startFakeServer } from "./fake-openai-server.js";
import { ScriptedLanguageModel } from "./scripted-language-model.js";

const dir = mkdtempSync(join(tmpdir(), "adaptlm-stack-"));
const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe("buildLanguageModelStack", () => {
  test("server -> meter -> cache -> recorder; the recording replays the run without the server", async () => {
    const server = await startFakeServer((request) => ({
      body: completionBody([`echo ${request.body.prompt}`], { prompt_tokens: 2, completion_tokens: 2 }),
    }));
    servers.push(server);
    const cachePath = join(dir, "cache.sqlite");
    const recordPath = join(dir, "run.jsonl");
    const stack = buildLanguageModelStack({
      target: server.baseUrl,
      model: "m",
      http: { env: {} },
      cachePath,
      recordPath,
      prices: { m: { inputPerMillion: 1e6, outputPerMillion: 1e6 } },
      budget: 100,
    });
    const first = await stack.lm.generate({ prompt: "a", maxTokens: 4 });
    const again = await stack.lm.generate({ prompt: "a", maxTokens: 4 });
    await stack.lm.generate({ prompt: "b", maxTokens: 4 });
    stack.close();
    assert.equal(first.choices[0].text, "echo a");
    assert.equal(again.cached, true);
    assert.equal(server.requests.length, 2);
    assert.deepEqual(
      { requests: stack.meter.snapshot().requests, cost: stack.meter.snapshot().cost },
      { requests: 2, cost: 8 },
    );
    // the recorder saw all three answers, the cached one included
    assert.equal(readFileSync(recordPath, "utf8").trim().split("\n").length, 4);

    const replay = buildLanguageModelStack({ target: `replay:${recordPath}` });
    assert.equal((await replay.lm.generate({ prompt: "b", maxTokens: 4 })).choices[0].text, "echo b");
    assert.equal(replay.lm.model, "m");
  });

  test("targets that cannot be built say what to pass", () => {
    assert.throws(() => buildLanguageModelStack({ target: "http://127.0.0.1:1/v1" }), /needs the model name/);
    assert.throws(() => buildLanguageModelStack({ target: "replay:" }), LmTargetError);
    assert.throws(() => buildLanguageModelStack({ target: "models/tiny-llama" }), /no local engine backend/);
    const local = buildLanguageModelStack({
      target: "models/tiny",
      localFactory: (target) => new ScriptedLanguageModel({ model: target, generate: () => "local" }),
    });
    assert.equal(local.lm.model, "models/tiny");
    assert.equal(local.cache, undefined);
  });
});
