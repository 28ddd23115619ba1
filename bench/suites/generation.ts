// Generation speed, ours vs PyTorch with the same random weights and thread count, batch 1:
//   prefill: one forward pass over a 128-token prompt filling the KV cache (target >= 1.0x PyTorch);
//   decode:  64 greedy tokens, one position per forward pass with the cache (target >= 1.5x PyTorch, whose
//            eager mode pays per-op overhead at batch 1).
// Models: GPT-2-124M-shaped and a Llama-shaped ~100M model (GQA 12/4 heads). The PyTorch side is
// bench/python/generation_ref.py, a plain torch implementation reading our safetensors file.

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { availableBackends, setCurrentBackend } from "../../src/backend/registry.js";
import { parseHfConfig } from "../../src/io/hf-config.js";
import { writeSafetensors } from "../../src/io/safetensors.js";
import { GPT2LMHeadModel } from "../../src/models/gpt2.js";
import { LlamaForCausalLM } from "../../src/models/llama.js";
import * as T from "../../src/tensor/index.js";
import type { BenchContext, BenchSuite } from "../main.js";

const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("../../../bench/python/generation_ref.py", import.meta.url));
const PROMPT = 128;

export const generationConfigs: Record<string, Record<string, unknown>> = {
  "gpt2-124M": {
    model_type: "gpt2",
    n_embd: 768,
    n_layer: 12,
    n_head: 12,
    vocab_size: 50257,
    n_positions: 1024,
  },
  "llama-100M": {
    model_type: "llama",
    hidden_size: 768,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    num_key_value_heads: 4,
    intermediate_size: 2048,
    vocab_size: 32000,
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: false,
  },
};

interface Timing {
  prefillMs: number;
  decodeMsPerToken: number;
}

function lastToken(logits: T.Tensor): number {
  const [, seq, vocab] = logits.shape;
  const row = logits.data.subarray((seq - 1) * vocab, seq * vocab);
  let best = 0;
  for (let i = 1; i < vocab; i++) if (row[i] > row[best]) best = i;
  return best;
}

export function timeOurs(
  model: GPT2LMHeadModel | LlamaForCausalLM,
  layers: number,
  vocab: number,
  decode: number,
  repetitions = 3,
): Timing {
  let prefillMs = Number.POSITIVE_INFINITY;
  let decodeMsPerToken = Number.POSITIVE_INFINITY;
  const prompt = Array.from({ length: PROMPT }, (_, i) => i % vocab);
  for (let rep = 0; rep < repetitions; rep++) {
    const cache = new T.KVCache(layers, PROMPT + decode);
    try {
      T.noGrad(() => {
        let t0 = performance.now();
        let token = T.scope(() =>
          lastToken(
            model.forward({ inputIds: T.tensor(prompt, [1, PROMPT], "int32"), cache, logitsToKeep: 1 }),
          ),
        );
        prefillMs = Math.min(prefillMs, performance.now() - t0);
        t0 = performance.now();
        for (let j = 0; j < decode; j++) {
          token = T.scope(() =>
            lastToken(
              model.forward({ inputIds: T.tensor([token], [1, 1], "int32"), cache, logitsToKeep: 1 }),
            ),
          );
        }
        decodeMsPerToken = Math.min(decodeMsPerToken, (performance.now() - t0) / decode);
      });
    } finally {
      cache.dispose();
    }
  }
  return { prefillMs, decodeMsPerToken };
}

function timeTorch(threads: number, weights: string, config: string, decode: number): Timing | string {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OMP_NUM_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: String(threads),
  };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const result = spawnSync(
    PYTHON,
    [SCRIPT, String(threads), weights, config, String(PROMPT), String(decode)],
    {
      env,
      encoding: "utf8",
      timeout: 600_000,
    },
  );
  const line = result.stdout?.trim().split("\n").pop();
  if (result.status !== 0 || !line)
    return `PyTorch run failed: ${(result.stderr || result.error?.message || "").slice(0, 300)}`;
  const parsed = JSON.parse(line) as { prefill_ms?: number; decode_ms_per_token?: number; missing?: string };
  if (parsed.missing) return parsed.missing;
  return {
    prefillMs: parsed.prefill_ms ?? Number.NaN,
    decodeMsPerToken: parsed.decode_ms_per_token ?? Number.NaN,
  };
}

interface PeakMemory {
  maxRssMb: number;
  baselineRssMb: number;
  weightsMb: number;
  kvCacheMb: number;
}

/** Runs bench/peak-memory.js in a fresh process, so its peak RSS counts only this model's run. */
function peakMemory(name: string, decode: number): PeakMemory | null {
  const script = fileURLToPath(new URL("../peak-memory.js", import.meta.url));
  const result = spawnSync(process.execPath, [script, name, String(PROMPT), String(decode)], {
    encoding: "utf8",
    timeout: 600_000,
  });
  const line = result.stdout?.trim().split("\n").pop();
  return result.status === 0 && line ? (JSON.parse(line) as PeakMemory) : null;
}

async function run(context: BenchContext): Promise<void> {
  const backend = availableBackends()[0];
  setCurrentBackend(backend);
  const decode = context.quick ? 8 : 64;
  context.note(
    `backend ${backend.name}, ${backend.threads} thread(s) for both; batch 1, prompt ${PROMPT} tokens, ${decode} decoded tokens; PyTorch with OPENBLAS_CORETYPE unset`,
  );
  for (const [name, raw] of Object.entries(generationConfigs)) {
    const config = parseHfConfig(raw, name);
    const model =
      config.family === "gpt2"
        ? new GPT2LMHeadModel(config, { seed: 1 })
        : new LlamaForCausalLM(config, { seed: 1 });
    const dir = mkdtempSync(join(tmpdir(), "adaptlm-bench-"));
    try {
      const weightsPath = join(dir, "model.safetensors");
      const tensors = new Map(
        model.namedParameters().map(([n, p]) => [n, { data: p.data as Float32Array, shape: [...p.shape] }]),
      );
      writeSafetensors(weightsPath, tensors);
      writeFileSync(join(dir, "config.json"), JSON.stringify(raw));
      const ours = timeOurs(model, config.numLayers, config.vocabSize, decode);
      const torch = timeTorch(backend.threads, weightsPath, join(dir, "config.json"), decode);
      if (typeof torch === "string") context.note(`${name}: ${torch}`);
      const ref = typeof torch === "string" ? null : torch;
      const weightsMb = (model.parameterCount() * 4) / 1048576;
      context.row({
        name: `${name} prefill ${PROMPT} tokens`,
        ours_ms: ours.prefillMs,
        ref_ms: ref?.prefillMs ?? null,
        detail: { tokens_per_s: (PROMPT * 1000) / ours.prefillMs, weights_mb: weightsMb },
      });
      const peak = peakMemory(name, decode);
      context.row({
        name: `${name} decode, per token`,
        ours_ms: ours.decodeMsPerToken,
        ref_ms: ref?.decodeMsPerToken ?? null,
        detail: { tokens_per_s: 1000 / ours.decodeMsPerToken, weights_mb: weightsMb },
      });
      if (peak) {
        context.note(
          `${name}: peak RSS of a fresh process doing the same prefill + decode: ${peak.maxRssMb.toFixed(0)} MB = ${(peak.maxRssMb / (peak.weightsMb + peak.kvCacheMb)).toFixed(2)}x (float32 weights ${peak.weightsMb.toFixed(0)} MB + KV cache ${peak.kvCacheMb.toFixed(1)} MB); Node's own baseline RSS is ${peak.baselineRssMb.toFixed(0)} MB of it`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      for (const p of model.parameters()) p.dispose();
    }
  }
}

export const generationSuite: BenchSuite = {
  name: "generation",
  description: "prefill and decode speed of GPT-2-124M- and Llama-100M-shaped models vs PyTorch (batch 1)",
  run,
};
