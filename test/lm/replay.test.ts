import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  parseRecords,
  RecordingLanguageModel,
  ReplayFileError,
  ReplayLanguageModel,
  ReplayMissError,
} from "../../src/lm/replay.js";
import { ScriptedLanguageModel } from "./scripted-language-model.js";

const dir = mkdtempSync(join(tmpdir(), "adaptlm-replay-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("recording and replay", () => {
  test("a recorded run replays the same answers with no model, matching on the normalised request", async () => {
    const path = join(dir, "sub", "run.jsonl");
    const inner = new ScriptedLanguageModel({
      model: "m1",
      capabilities: { topLogprobs: 3 },
      generate: (request, sample, call) => `answer ${call}.${sample} to ${request.prompt}`,
      score: (_prompt, continuation) => -continuation.length,
    });
    const recorder = new RecordingLanguageModel(inner, path);
    const first = await recorder.generate({ prompt: "q1", temperature: 0.5, n: 2 });
    const second = await recorder.generate({ prompt: "q2" });
    const scored = await recorder.score("ctx", " yes");

    const lines = readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      lines.map((line) => line.kind),
      ["meta", "generate", "generate", "score"],
    );
    assert.equal(lines[0].capabilities.topLogprobs, 3);
    assert.deepEqual(lines[2].request, {
      prompt: "q2",
      maxTokens: 256,
      temperature: 0,
      topP: 1,
      stop: [],
      seed: null,
      n: 1,
      logprobs: null,
    });

    const replay = ReplayLanguageModel.fromFile(path);
    assert.equal(replay.model, "m1");
    assert.equal(replay.capabilities.topLogprobs, 3);
    // the same request spelled with its defaults explicit matches
    assert.deepEqual(await replay.generate({ prompt: "q2", maxTokens: 256, topP: 1, stop: [] }), second);
    assert.deepEqual(await replay.generate({ n: 2, temperature: 0.5, prompt: "q1" }), first);
    assert.deepEqual(await replay.score("ctx", " yes"), scored);
    await assert.rejects(replay.generate({ prompt: "q1" }), ReplayMissError);
    await assert.rejects(replay.generate({ prompt: "q3" }), /no answer for the request with prompt "q3"/);
    await assert.rejects(replay.score("ctx", " no"), ReplayMissError);
  });

  test("a request recorded several times is served in order; strict refuses extra asks", async () => {
    const path = join(dir, "repeat.jsonl");
    let counter = 0;
    const recorder = new RecordingLanguageModel(
      new ScriptedLanguageModel({ model: "m", generate: () => `sample ${counter++}` }),
      path,
    );
    for (let i = 0; i < 3; i++) await recorder.generate({ prompt: "same", temperature: 1 });
    const replay = ReplayLanguageModel.fromFile(path);
    const texts: string[] = [];
    for (let i = 0; i < 4; i++)
      texts.push((await replay.generate({ prompt: "same", temperature: 1 })).choices[0].text);
    assert.deepEqual(texts, ["sample 0", "sample 1", "sample 2", "sample 2"]);
    const strict = ReplayLanguageModel.fromFile(path, { strict: true });
    for (let i = 0; i < 3; i++) await strict.generate({ prompt: "same", temperature: 1 });
    await assert.rejects(strict.generate({ prompt: "same", temperature: 1 }), /recorded 3 time\(s\)/);
  });

  test("bad recordings are reported with the line number", () => {
    assert.throws(
      () => parseRecords('{"kind":"meta","model":"m","capabilities":{}}\nnot json\n', "f.jsonl"),
      (error: unknown) => {
        assert.ok(error instanceof ReplayFileError);
        assert.match(error.message, /line 2 of f.jsonl is not JSON/);
        return true;
      },
    );
    assert.throws(() => parseRecords('{"kind":"other"}'), /expected "meta", "generate" or "score"/);
    assert.throws(() => ReplayLanguageModel.fromFile(join(dir, "missing.jsonl")), /ENOENT/);
  });
});
