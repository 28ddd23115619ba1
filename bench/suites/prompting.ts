// Prompting on the local engine: self-consistency's N sampled paths against one sample (the prompt is
// prefilled once and the samples decode as one batch, so N paths should cost far less than N requests), and
// `adaptlm serve`'s throughput and latency under concurrent clients. The models are the shipped lab decoders
// (self-consistency on lab-decoder-s and -l, the server on -s). There is no external reference here: the
// "reference" of a self-consistency row is our own single sample, and the server row reports requests/s and
// latency percentiles.

import { fileURLToPath } from "node:url";
import type { Choice } from "../../src/lm/language-model.js";
import { LocalLanguageModel } from "../../src/lm/local-engine.js";
import { loadLocalModel } from "../../src/models/load-model.js";
import { buildCotPrompt } from "../../src/prompting/chain-of-thought.js";
import { startOpenAIServer } from "../../src/serve/openai-server.js";
import { arithmeticTaskRecords } from "../../src/tasks/synthetic/arithmetic.js";
import type { BenchContext, BenchSuite } from "../main.js";

const modelPath = (name: string) => fileURLToPath(new URL(`../../../models/${name}`, import.meta.url));
const MODEL = modelPath("lab-decoder-s");
const PROMPT =
  "Q: Mia has 34 stickers and buys 27 more. How many stickers does Mia have now?\nA: Let's think step by step.";
const MAX_TOKENS = 48;

/** Self-consistency as the papers run it: few-shot chain of thought, three worked arithmetic exemplars. */
function fewShotCotPrompt(): string {
  const records = arithmeticTaskRecords({ seed: 7, count: 4, steps: 1, split: "train" });
  const exemplars = records
    .slice(0, 3)
    .map((r) => ({ question: r.text, rationale: r.rationale, answer: r.label }));
  return buildCotPrompt(exemplars, records[3].text);
}

/** Milliseconds one call of fn takes. */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

async function selfConsistency(
  context: BenchContext,
  model: string,
  prompt: string,
  kind: string,
): Promise<void> {
  const loaded = loadLocalModel(modelPath(model));
  const promptTokens = loaded.tokenizer?.encode(prompt).ids.length ?? 0;
  const lm = new LocalLanguageModel(loaded, { name: model });
  // the chosen tokens' logprobs, which the weighted vote needs (and which count the tokens generated)
  const request = { prompt, maxTokens: MAX_TOKENS, temperature: 0.7, seed: 1, logprobs: 0 };
  const samples = 20;
  // Warm-up of both paths (this machine's clock takes a while under load to settle). The batch decodes until
  // its longest path ends, so the single sample it is compared with is that path: sample i of a request is
  // drawn with seed + i, the same tokens a lone request with that seed draws. (With seed 1 alone the lone
  // sample can end at 27 tokens while the batch runs 48 steps, which overstated the cost of the batch.)
  const tokens = (choice: Choice) => choice.logprobs?.length ?? 0;
  const paths = (await lm.generate({ ...request, n: samples })).choices.map(tokens);
  const longest = paths.indexOf(Math.max(...paths));
  const lone = { ...request, seed: request.seed + longest };
  const loneTokens = tokens((await lm.generate(lone)).choices[0] as Choice);
  // Single and N-path runs alternate, so that load from other processes on a shared machine weighs on both.
  const runs = context.quick ? 1 : 9;
  const single: number[] = [];
  const many: number[] = [];
  for (let i = 0; i < runs; i++) {
    single.push(await timed(() => lm.generate(lone)));
    many.push(await timed(() => lm.generate({ ...request, n: samples })));
  }
  const best = Math.min(...many);
  const bestSingle = Math.min(...single);
  context.row({
    name: `self-consistency ${samples} paths vs 1 (${model}, ${kind} prompt of ${promptTokens} tokens, ${MAX_TOKENS} new)`,
    ours_ms: best,
    ref_ms: bestSingle,
    detail: {
      cost_vs_single: best / bestSingle,
      median_ms: median(many),
      median_single_ms: median(single),
      median_cost_vs_single: median(many) / median(single),
      single_tokens: loneTokens,
      paths_max_tokens: Math.max(...paths),
      paths_mean_tokens: paths.reduce((a, b) => a + b, 0) / paths.length,
      target: "<= 4x",
    },
  });
}

async function serveThroughput(context: BenchContext): Promise<void> {
  const server = await startOpenAIServer(loadLocalModel(MODEL), { port: 0, modelName: "lab", maxQueue: 64 });
  try {
    const clients = 8;
    const perClient = context.quick ? 2 : 6;
    const latencies: number[] = [];
    const ask = async (i: number) => {
      const start = performance.now();
      const response = await fetch(`${server.url}/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "lab", prompt: `${PROMPT} ${i}`, max_tokens: 16, temperature: 0 }),
      });
      if (!response.ok) throw new Error(`serve answered ${response.status}: ${await response.text()}`);
      await response.json();
      latencies.push(performance.now() - start);
    };
    await ask(-1); // warm-up
    latencies.length = 0;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let r = 0; r < perClient; r++) await ask(c * perClient + r);
      }),
    );
    const wall = performance.now() - start;
    const sorted = [...latencies].sort((a, b) => a - b);
    context.row({
      name: `serve: ${clients} concurrent clients x ${perClient} completions (16 tokens, lab-decoder-s)`,
      ours_ms: wall,
      ref_ms: null,
      detail: {
        requests_per_s: (1000 * latencies.length) / wall,
        p50_ms: percentile(sorted, 0.5),
        p99_ms: percentile(sorted, 0.99),
      },
    });
  } finally {
    await server.close();
  }
}

export const promptingSuite: BenchSuite = {
  name: "prompting",
  description:
    "self-consistency N=20 vs one sample on the local engine (lab-decoder-s and -l); adaptlm serve under 8 concurrent clients",
  async run(context) {
    // The smallest lab decoder is the hard case: its 4096-word head is 38% of its weights, and sampling and
    // attention cost per row whatever the batch; the largest shows a model whose weights dominate.
    // The 3-shot chain-of-thought prompt is what self-consistency sends in practice (Wang et al. sample from
    // few-shot CoT prompts); the one-line zero-shot prompt leaves the least prompt to share among the samples.
    context.note("models: the shipped lab decoders; ratio = single-sample time / 20-path time");
    const fewShot = fewShotCotPrompt();
    for (const model of ["lab-decoder-s", "lab-decoder-l"]) {
      await selfConsistency(context, model, PROMPT, "zero-shot CoT");
      await selfConsistency(context, model, fewShot, "3-shot CoT");
    }
    await serveThroughput(context);
  },
};
