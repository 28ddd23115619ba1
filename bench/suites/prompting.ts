// Prompting on the local engine: self-consistency's N sampled paths against one sample (the prompt is
// prefilled once and the samples decode as one batch, so N paths should cost far less than N requests), and
// `adaptlm serve`'s throughput and latency under concurrent clients. The models are the shipped lab decoders
// (self-consistency on lab-decoder-s and -l, the server on -s). There is no external reference here: the
// "reference" of a self-consistency row is our own single sample, and the server row reports requests/s and
// latency percentiles.

import { fileURLToPath } from "node:url";
import { LocalLanguageModel } from "../../src/lm/local-engine.js";
import { loadLocalModel } from "../../src/models/load-model.js";
import { startOpenAIServer } from "../../src/serve/openai-server.js";
import type { BenchContext, BenchSuite } from "../main.js";

const modelPath = (name: string) => fileURLToPath(new URL(`../../../models/${name}`, import.meta.url));
const MODEL = modelPath("lab-decoder-s");
const PROMPT =
  "Q: Mia has 34 stickers and buys 27 more. How many stickers does Mia have now?\nA: Let's think step by step.";
const MAX_TOKENS = 48;

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

async function selfConsistency(context: BenchContext, model: string): Promise<void> {
  const lm = new LocalLanguageModel(loadLocalModel(modelPath(model)), { name: model });
  const request = { prompt: PROMPT, maxTokens: MAX_TOKENS, temperature: 0.7, seed: 1 };
  const samples = 20;
  // warm-up of both paths (this machine's clock takes a while under load to settle)
  await lm.generate({ ...request, n: 1 });
  await lm.generate({ ...request, n: samples });
  // Single and N-path runs alternate, so that load from other processes on a shared machine weighs on both.
  const runs = context.quick ? 1 : 9;
  const single: number[] = [];
  const many: number[] = [];
  for (let i = 0; i < runs; i++) {
    single.push(await timed(() => lm.generate({ ...request, n: 1 })));
    many.push(await timed(() => lm.generate({ ...request, n: samples })));
  }
  const best = Math.min(...many);
  const bestSingle = Math.min(...single);
  context.row({
    name: `self-consistency ${samples} paths vs 1 (${model}, ${MAX_TOKENS} new tokens)`,
    ours_ms: best,
    ref_ms: bestSingle,
    detail: {
      cost_vs_single: best / bestSingle,
      median_ms: median(many),
      median_single_ms: median(single),
      median_cost_vs_single: median(many) / median(single),
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
    context.note("models: the shipped lab decoders; ratio = single-sample time / 20-path time");
    await selfConsistency(context, "lab-decoder-s");
    await selfConsistency(context, "lab-decoder-l");
    await serveThroughput(context);
  },
};
