// Generation features on the golden GPT-2 and Llama models: cached == uncached (tokens, and logits within
// 1e-4), batched with left padding == one by one, n samples sharing one prefill == separately seeded runs,
// per-row stops, top logprobs, and scoring of continuations in one forward pass.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { generateBatch, logSoftmaxRow } from "../../src/models/batch-generate.js";
import { generate } from "../../src/models/generate.js";
import { type LoadedModel, loadLocalModel } from "../../src/models/load-model.js";
import type { CausalLanguageModel } from "../../src/models/registry.js";
import { scoreContinuations } from "../../src/models/score.js";
import * as T from "../../src/tensor/index.js";
import { goldenGpt2Folder, goldenLlamaFolder } from "./model-fixtures.js";

function causal(loaded: LoadedModel): CausalLanguageModel {
  assert.equal(loaded.kind, "causal-lm");
  return loaded.model as CausalLanguageModel;
}

const models = [
  { name: "gpt2", model: causal(loadLocalModel(goldenGpt2Folder)), bos: 98 },
  { name: "llama", model: causal(loadLocalModel(goldenLlamaFolder)), bos: 1 },
];

/** Seeded random prompts of the given lengths, starting with BOS. */
function randomPrompts(seed: number, lengths: number[], bos: number): number[][] {
  const rng = new T.Rng(seed);
  return lengths.map((length) => [bos, ...Array.from({ length: length - 1 }, () => 3 + rng.int(90))]);
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

for (const { name, model, bos } of models) {
  describe(`generation on the golden ${name}`, () => {
    test("cached generation equals uncached generation (greedy and sampled), logits within 1e-4", () => {
      for (const [i, prompt] of randomPrompts(11, [1, 4, 9], bos).entries()) {
        for (const sampling of [{}, { temperature: 0.9, topK: 20, topP: 0.95, seed: 100 + i }]) {
          const options = { maxNewTokens: 12, keepLogits: true, ...sampling };
          const cached = generate(model, prompt, { ...options, useCache: true });
          const uncached = generate(model, prompt, { ...options, useCache: false });
          assert.deepEqual(cached.tokens, uncached.tokens);
          cached.stepLogits.forEach((logits, step) => {
            assert.ok(maxDifference(logits, uncached.stepLogits[step]) < 1e-4, `step ${step}`);
          });
          // The batched generator's own cached and uncached paths agree as well (padding included).
          const prompts = [prompt, ...randomPrompts(50 + i, [6], bos)];
          const batchCached = generateBatch(model, prompts, { ...options, useCache: true });
          const batchUncached = generateBatch(model, prompts, { ...options, useCache: false });
          batchCached.forEach((samples, p) => {
            assert.deepEqual(samples[0].tokens, batchUncached[p][0].tokens);
            samples[0].stepLogits.forEach((logits, step) => {
              assert.ok(maxDifference(logits, batchUncached[p][0].stepLogits[step]) < 1e-4);
            });
          });
        }
      }
    });

    test("batched prompts of different lengths (left padding) equal one-by-one generation", () => {
      const prompts = randomPrompts(23, [3, 8, 1, 5], bos);
      for (const sampling of [{}, { temperature: 1, seed: 7 }]) {
        const options = { maxNewTokens: 10, keepLogits: true, ...sampling };
        const batched = generateBatch(model, prompts, options);
        prompts.forEach((prompt, p) => {
          const alone = generate(model, prompt, options);
          const row = batched[p][0];
          assert.deepEqual(row.tokens, alone.tokens, `prompt ${p}`);
          row.logprobs.forEach((lp, step) => {
            assert.ok(Math.abs(lp - alone.logprobs[step]) < 1e-4);
          });
          row.stepLogits.forEach((logits, step) => {
            assert.ok(maxDifference(logits, alone.stepLogits[step]) < 1e-4);
          });
        });
      }
    });

    test("n samples share one prefill and equal separate runs seeded seed, seed + 1, ...", () => {
      const prompts = randomPrompts(31, [4, 7], bos);
      const batched = generateBatch(model, prompts, { maxNewTokens: 8, n: 3, temperature: 1.2, seed: 40 });
      prompts.forEach((prompt, p) => {
        assert.equal(batched[p].length, 3);
        batched[p].forEach((sample, j) => {
          const alone = generate(model, prompt, { maxNewTokens: 8, temperature: 1.2, seed: 40 + j });
          assert.deepEqual(sample.tokens, alone.tokens, `prompt ${p} sample ${j}`);
        });
      });
      // Sampling at this temperature gives different samples (the shared prefill is not a shared sample).
      const distinct = new Set(batched.flat().map((s) => s.tokens.join(",")));
      assert.ok(distinct.size > 1);
    });

    test("one prompt's samples share its prefill's keys and equal separate runs, also as rows stop", () => {
      const [prompt] = randomPrompts(33, [6], bos);
      const options = { maxNewTokens: 10, temperature: 1.2, seed: 50, keepLogits: true };
      const free = generateBatch(model, [prompt], { ...options, n: 5 })[0];
      // a token some sample draws early ends that sample there, the others go on
      const eos = free[0].tokens[2];
      const stopped = generateBatch(model, [prompt], { ...options, n: 5, eosTokenIds: [eos] })[0];
      const lengths = new Set(stopped.map((sample) => sample.tokens.length));
      assert.ok(lengths.size > 1, "samples end at different steps");
      stopped.forEach((sample, j) => {
        const alone = generate(model, prompt, { ...options, seed: 50 + j, eosTokenIds: [eos] });
        assert.deepEqual(sample.tokens, alone.tokens, `sample ${j}`);
        sample.stepLogits.forEach((logits, step) => {
          assert.ok(maxDifference(logits, alone.stepLogits[step]) < 1e-4, `sample ${j} step ${step}`);
        });
      });
    });

    test("rows stop on their own (EOS, shouldStop) while the others go on; streaming sees every token", () => {
      const prompts = randomPrompts(41, [2, 6, 4], bos);
      const free = generateBatch(model, prompts, { maxNewTokens: 9 });
      // Stop prompt 1 at its 3rd token via shouldStop, and make prompt 2's 5th token an EOS.
      const eos = free[2][0].tokens[4];
      const events: string[] = [];
      const stopped = generateBatch(model, prompts, {
        maxNewTokens: 9,
        eosTokenIds: [eos],
        shouldStop: (p, _s, tokens) => p === 1 && tokens.length === 3,
        onToken: (e) => events.push(`${e.prompt}:${e.sample}:${e.step}:${e.token}`),
      });
      assert.equal(stopped[1][0].finishReason, "stop");
      assert.deepEqual(stopped[1][0].tokens, free[1][0].tokens.slice(0, 3));
      const firstEos = free[2][0].tokens.indexOf(eos);
      assert.equal(stopped[2][0].finishReason, "eos");
      assert.deepEqual(stopped[2][0].tokens, free[2][0].tokens.slice(0, firstEos + 1));
      for (const p of [0, 1, 2]) {
        const row = stopped[p][0];
        if (row.finishReason === "length") assert.equal(row.tokens.length, 9);
        assert.deepEqual(row.tokens, free[p][0].tokens.slice(0, row.tokens.length));
        const streamed = events.filter((e) => e.startsWith(`${p}:0:`)).map((e) => Number(e.split(":")[3]));
        assert.deepEqual(streamed, row.tokens);
      }
    });

    test("top logprobs are the sorted best alternatives and include the greedy choice", () => {
      const [prompt] = randomPrompts(5, [5], bos);
      const [[sample]] = generateBatch(model, [prompt], {
        maxNewTokens: 4,
        topLogprobs: 3,
        keepLogits: true,
      });
      sample.topLogprobs.forEach((alternatives, step) => {
        assert.equal(alternatives.length, 3);
        assert.equal(alternatives[0].token, sample.tokens[step]);
        assert.ok(
          alternatives[0].logprob >= alternatives[1].logprob &&
            alternatives[1].logprob >= alternatives[2].logprob,
        );
        // The kernel's logsumexp may differ from JavaScript's: native sums float32 exps.
        const full = logSoftmaxRow(sample.stepLogits[step]);
        for (const a of alternatives) assert.ok(Math.abs(a.logprob - full[a.token]) < 1e-6);
        assert.equal(alternatives[0].logprob, sample.logprobs[step]);
      });
    });

    test("score sums the continuation's logprobs in one batched pass; a greedy continuation is greedy", () => {
      const [prompt] = randomPrompts(61, [6], bos);
      const greedy = generate(model, prompt, { maxNewTokens: 5 });
      const others = randomPrompts(62, [3, 1], bos).map((c) => c.slice(1).concat([7]));
      const scores = scoreContinuations(model, prompt, [greedy.tokens, ...others]);
      // The greedy continuation: its score is the sum of generation's per-token logprobs.
      assert.ok(Math.abs(scores[0].logprob - greedy.logprobs.reduce((a, b) => a + b, 0)) < 1e-4);
      scores[0].tokenLogprobs.forEach((lp, t) => {
        assert.ok(Math.abs(lp - greedy.logprobs[t]) < 1e-4);
      });
      assert.equal(scores[0].isGreedy, true);
      // Any continuation: teacher forcing through the KV cache one token at a time gives the same numbers.
      others.forEach((continuation, i) => {
        const forced: number[] = [];
        const cache = new T.KVCache(model.config.numLayers);
        let pending = [...prompt];
        for (const token of continuation) {
          const logits = T.scope(() =>
            T.noGrad(() => {
              const out = model.forward({ inputIds: T.tensor(pending, [1, pending.length], "int32"), cache });
              const vocab = out.shape[2];
              return Float32Array.from(
                out.data.subarray((pending.length - 1) * vocab, pending.length * vocab),
              );
            }),
          );
          forced.push(logSoftmaxRow(logits)[token]);
          pending = [token];
        }
        cache.dispose();
        const score = scores[i + 1];
        assert.equal(score.tokenLogprobs.length, continuation.length);
        score.tokenLogprobs.forEach((lp, t) => {
          assert.ok(Math.abs(lp - forced[t]) < 1e-4);
        });
        assert.ok(Math.abs(score.logprob - forced.reduce((a, b) => a + b, 0)) < 1e-4);
      });
      assert.deepEqual(scoreContinuations(model, prompt, [[]]), [
        { logprob: 0, tokenLogprobs: [], isGreedy: true },
      ]);
    });
  });
}
