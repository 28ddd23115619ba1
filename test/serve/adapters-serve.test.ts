// `adaptlm serve` with adapters: LoRA folders made in the test on tiny-gpt2-hf-random, served on one base as
// "<base>:<adapter>". The adapter's logprobs (echo scoring) differ from the base's and equal the same adapter
// attached directly; a base request after an adapter request gives the base's numbers again; unknown adapters
// and badly named ones get clear errors; a prompt-tuning adapter's virtual tokens and a prefix-tuning adapter's
// keys/values lead every prompt (scoring and cached greedy generation equal the adapter's uncached forward);
// the CLI's --adapter NAME=DIR.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { CausalLMTaskModel } from "../../src/heads/causal-lm.js";
import { LocalLanguageModel } from "../../src/lm/local-engine.js";
import type { GPT2LMHeadModel } from "../../src/models/gpt2.js";
import { loadModel } from "../../src/models/load-model.js";
import { loadAdapter, saveAdapter } from "../../src/peft/adapter-store.js";
import { LoraAdapter } from "../../src/peft/lora.js";
import { forwardWithAdapter } from "../../src/peft/method.js";
import { PrefixTuningAdapter } from "../../src/peft/prefix.js";
import { PromptTuningAdapter } from "../../src/peft/prompt-tuning.js";
import { type RunningServer, ServeError, startOpenAIServer } from "../../src/serve/openai-server.js";
import * as T from "../../src/tensor/index.js";
import { sharedPath } from "../io/shared-paths.js";
import { makeTempDir } from "../io/temp-dir.js";

const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const tinyGpt2 = sharedPath("models/tiny-gpt2-hf-random");
const dir = makeTempDir("adapters-serve");

/** A LoRA adapter folder on tiny GPT-2 with seeded, non-zero A and B (a fresh LoRA's B is 0: no change). */
async function makeLoraFolder(name: string, seed: number): Promise<string> {
  const loaded = await loadModel(tinyGpt2);
  const model = new CausalLMTaskModel(loaded.model as unknown as GPT2LMHeadModel);
  const lora = new LoraAdapter({ r: 2, alpha: 4, seed, targetModules: ["c_attn", "c_fc", "c_proj"] }).attach(
    model,
  );
  let k = seed;
  for (const [, parameter] of lora.trainableParameters()) {
    for (let i = 0; i < parameter.size; i++) parameter.data[i] = 1.5 * Math.sin(++k * 1.7);
  }
  const folder = join(dir, name);
  saveAdapter(lora, folder);
  return folder;
}

interface EchoLogprobs {
  model: string;
  choices: { logprobs: { tokens: string[]; token_logprobs: (number | null)[] } }[];
}

let server: RunningServer;
let sharpFolder: string;

before(async () => {
  sharpFolder = await makeLoraFolder("sharp", 1);
  const softFolder = await makeLoraFolder("soft", 7);
  server = await startOpenAIServer(await loadModel(tinyGpt2), {
    modelName: "tiny",
    port: 0,
    adapters: new Map([
      ["sharp", loadAdapter(sharpFolder)],
      ["soft", loadAdapter(softFolder)],
    ]),
  });
});
after(() => server.close());

async function echo(model: string, prompt = " lowest newer wider lower"): Promise<EchoLogprobs> {
  const response = await fetch(`${server.url}/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, prompt, max_tokens: 0, echo: true, logprobs: 0 }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as EchoLogprobs;
}

const logprobsOf = (body: EchoLogprobs): number[] =>
  body.choices[0].logprobs.token_logprobs.slice(1).map((value) => value as number);

describe("adaptlm serve with adapters", () => {
  test("/v1/models lists the base and each <base>:<adapter>", async () => {
    const models = (await (await fetch(`${server.url}/models`)).json()) as {
      data: { id: string; parent: string | null }[];
    };
    assert.deepEqual(
      models.data.map((m) => [m.id, m.parent]),
      [
        ["tiny", null],
        ["tiny:sharp", "tiny"],
        ["tiny:soft", "tiny"],
      ],
    );
  });

  test("an adapter changes the logprobs, matching the adapter attached directly; the base comes back after it", async () => {
    const base = await echo("tiny");
    const sharp = await echo("tiny:sharp");
    const soft = await echo("tiny:soft");
    const baseAgain = await echo("tiny");
    assert.equal(sharp.model, "tiny:sharp");
    assert.equal(baseAgain.model, "tiny");
    const baseLogprobs = logprobsOf(base);
    const sharpLogprobs = logprobsOf(sharp);
    const biggest = Math.max(...sharpLogprobs.map((value, i) => Math.abs(value - baseLogprobs[i])));
    assert.ok(biggest > 0.01, `the adapter should change the logprobs (largest change ${biggest})`);
    assert.notDeepEqual(logprobsOf(soft), sharpLogprobs);
    assert.deepEqual(logprobsOf(baseAgain), baseLogprobs);
    // no request model = the base
    assert.deepEqual(logprobsOf(await echo(undefined as unknown as string)), baseLogprobs);

    // the same numbers as the adapter attached to a separately loaded base, scored by the local engine
    const direct = await loadModel(tinyGpt2);
    loadAdapter(sharpFolder).attach(new CausalLMTaskModel(direct.model as unknown as GPT2LMHeadModel));
    const tokens = sharp.choices[0].logprobs.tokens;
    const score = await new LocalLanguageModel(direct).score(tokens[0], tokens.slice(1).join(""));
    assert.equal(score.tokenLogprobs.length, sharpLogprobs.length);
    for (const [i, value] of score.tokenLogprobs.entries())
      assert.ok(Math.abs(value - sharpLogprobs[i]) < 1e-5);
  });

  test("unknown adapters and models answer 404 naming what is served", async () => {
    const ask = async (model: string) =>
      fetch(`${server.url}/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, prompt: "low", max_tokens: 1 }),
      });
    const unknownAdapter = await ask("tiny:blunt");
    assert.equal(unknownAdapter.status, 404);
    const error = ((await unknownAdapter.json()) as { error: { message: string; code: string } }).error;
    assert.equal(error.code, "model_not_found");
    assert.match(
      error.message,
      /adapter "blunt" is not loaded.*"tiny:sharp", "tiny:soft".*--adapter blunt=DIR/,
    );
    const unknownModel = await ask("gpt-4");
    assert.equal(unknownModel.status, 404);
    assert.match(
      ((await unknownModel.json()) as { error: { message: string } }).error.message,
      /serves "tiny", "tiny:sharp", "tiny:soft"/,
    );
    // the server still serves the adapter after the failures
    assert.equal((await ask("tiny:sharp")).status, 200);
  });

  const virtualTokenAdapters = [
    { kind: "prompt-tuning", make: () => new PromptTuningAdapter({ numVirtualTokens: 3, seed: 2 }) },
    { kind: "prefix-tuning", make: () => new PrefixTuningAdapter({ numVirtualTokens: 3, seed: 2 }) },
  ];
  for (const { kind, make } of virtualTokenAdapters)
    test(`a ${kind} adapter: echo scoring and cached greedy generation equal its uncached forward`, async () => {
      const folder = join(dir, kind);
      {
        const loaded = await loadModel(tinyGpt2);
        const model = new CausalLMTaskModel(loaded.model as unknown as GPT2LMHeadModel);
        const adapter = make().attach(model);
        for (const [, parameter] of adapter.trainableParameters())
          for (let i = 0; i < parameter.size; i++) parameter.data[i] = 2 * Math.cos(i * 0.9 + 1);
        saveAdapter(adapter, folder);
      }
      const prompted = await startOpenAIServer(await loadModel(tinyGpt2), {
        modelName: "tiny",
        port: 0,
        adapters: new Map([[kind, loadAdapter(folder)]]),
      });
      try {
        const post = async (body: Record<string, unknown>) => {
          const response = await fetch(`${prompted.url}/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          });
          assert.equal(response.status, 200, await response.clone().text());
          return (await response.json()) as EchoLogprobs & { choices: { text: string }[] };
        };
        const prompt = " lowest newer wider";
        const echoBody = { prompt, max_tokens: 0, echo: true, logprobs: 0 };
        const served = logprobsOf(await post({ ...echoBody, model: `tiny:${kind}` }));
        const base = logprobsOf(await post({ ...echoBody, model: "tiny" }));

        // the reference: the adapter's own forward (prompt tuning keeps its virtual positions in the logits), no cache
        const direct = await loadModel(tinyGpt2);
        const taskModel = new CausalLMTaskModel(direct.model as unknown as GPT2LMHeadModel);
        const adapter = loadAdapter(folder).attach(taskModel);
        const virtual = adapter.virtualTokens;
        const logSoftmaxAt = (ids: number[], position: number): number[] =>
          T.noGrad(() => {
            const logits = forwardWithAdapter(taskModel, adapter, {
              inputIds: T.tensor(ids, [1, ids.length], "int32"),
            }).outputs.logits; // [1, virtual + seq, vocab] (virtual is 0 for prefix tuning)
            const vocab = logits.shape[2];
            const row = Array.from(
              logits.data.subarray((virtual + position) * vocab, (virtual + position + 1) * vocab),
            );
            const max = Math.max(...row);
            const logSum = Math.log(row.reduce((sum, value) => sum + Math.exp(value - max), 0)) + max;
            return row.map((value) => value - logSum);
          });
        const ids = direct.tokenizer?.encode(prompt).ids ?? [];
        const expected = ids.slice(1).map((token, t) => logSoftmaxAt(ids, t)[token]);
        assert.equal(served.length, expected.length);
        for (const [t, value] of served.entries())
          assert.ok(Math.abs(value - expected[t]) < 1e-5, `position ${t}`);
        assert.ok(
          Math.max(...served.map((value, t) => Math.abs(value - base[t]))) > 0.01,
          "the prompt changes the logprobs",
        );

        // greedy generation through the KV cache: each token the argmax of the uncached forward over all so far
        const generated = await post({
          model: `tiny:${kind}`,
          prompt,
          max_tokens: 5,
          temperature: 0,
          logprobs: 0,
        });
        const sequence = [...ids];
        const expectedLogprobs: number[] = [];
        for (let step = 0; step < 5; step++) {
          const row = logSoftmaxAt(sequence, sequence.length - 1);
          const token = row.indexOf(Math.max(...row));
          expectedLogprobs.push(row[token]);
          sequence.push(token);
          if (token === 20) break; // <|endoftext|> ends generation
        }
        assert.ok(expectedLogprobs.length >= 3, "several decoding steps run through the cache");
        const servedGenerated = generated.choices[0].logprobs.token_logprobs as number[];
        assert.equal(servedGenerated.length, expectedLogprobs.length);
        for (const [t, value] of servedGenerated.entries())
          assert.ok(Math.abs(value - expectedLogprobs[t]) < 1e-5, `generated token ${t}`);
        assert.equal(
          generated.choices[0].text,
          direct.tokenizer?.decode(sequence.slice(ids.length), { skipSpecialTokens: true }),
        );
      } finally {
        await prompted.close();
      }
    });

  test("adapters with names that cannot be requested are refused at start with a typed error", async () => {
    const loaded = await loadModel(tinyGpt2);
    await assert.rejects(
      startOpenAIServer(loaded, { port: 0, adapters: new Map([["a:b", loadAdapter(sharpFolder)]]) }),
      (error: unknown) => error instanceof ServeError && /adapter name "a:b"/.test(error.message),
    );
  });

  test("the CLI: --adapter NAME=DIR serves it as <name>:NAME", async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      [cli, "serve", tinyGpt2, "--port", "0", "--name", "tiny", "--adapter", `sharp=${sharpFolder}`],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let stdout = "";
        let stderr = "";
        child.stdout?.on("data", (chunk: Buffer) => {
          stdout += chunk.toString();
          const match = /serving tiny at (http:\/\/\S+)\n {2}adapter: tiny:sharp/.exec(stdout);
          if (match) resolve(match[1]);
        });
        child.stderr?.on("data", (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        child.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
      });
      const models = (await (await fetch(`${url}/models`)).json()) as { data: { id: string }[] };
      assert.deepEqual(
        models.data.map((m) => m.id),
        ["tiny", "tiny:sharp"],
      );
      const response = await fetch(`${url}/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: "tiny:sharp",
          prompt: " lowest newer wider lower",
          max_tokens: 0,
          echo: true,
          logprobs: 0,
        }),
      });
      const viaCli = logprobsOf((await response.json()) as EchoLogprobs);
      assert.deepEqual(viaCli, logprobsOf(await echo("tiny:sharp")));
    } finally {
      child.kill("SIGTERM");
    }
  });
});
