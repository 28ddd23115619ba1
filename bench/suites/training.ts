// Training workloads, ours vs PyTorch with the same shapes and thread count, measured in the same run:
//   bert-layer: one BERT-base encoder layer forward + backward (hidden 768, 12 heads, FFN 3072, seq 128,
//               batch 8) — target >= 1.0x PyTorch;
//   tiny-step:  a whole training step of a tiny encoder classifier (hidden 64, 2 layers, 4 heads, seq 64,
//               batch 16) — overhead-bound, target >= 3x PyTorch. Its classifier reads the [CLS] position
//               only, so the last layer's backward passes run on those rows (src/tensor/ops/sparse-rows.ts);
//               the "dense backward" row times the same step with that off, as PyTorch computes it.
// The PyTorch side is bench/python/training_ref.py (plain torch modules of the same shapes).

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Backend } from "../../src/backend/backend.js";
import { availableBackends, setCurrentBackend } from "../../src/backend/registry.js";
import type { ModelConfig } from "../../src/io/hf-config.js";
import { parseHfConfig } from "../../src/io/hf-config.js";
import { BertLayer, BertModel } from "../../src/models/bert.js";
import { Linear } from "../../src/nn/index.js";
import { AdamW } from "../../src/optim/index.js";
import * as T from "../../src/tensor/index.js";
import type { BenchContext, BenchSuite } from "../main.js";

const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("../../../bench/python/training_ref.py", import.meta.url));

function bertConfig(
  hidden: number,
  heads: number,
  ffn: number,
  layers: number,
  vocab: number,
  positions: number,
): ModelConfig {
  return parseHfConfig({
    model_type: "bert",
    hidden_size: hidden,
    num_attention_heads: heads,
    intermediate_size: ffn,
    num_hidden_layers: layers,
    vocab_size: vocab,
    max_position_embeddings: positions,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    hidden_act: "gelu",
  });
}

/**
 * Repetitions per case, the same for us and for PyTorch (training_ref.py gets them): each best time is then a
 * minimum over as many samples. They are taken in `rounds` alternating chunks (ours, then PyTorch's, then ours
 * again...), so that a busy spell of a shared machine falls on both sides rather than on one. Each side
 * stops a chunk early at its share of the time budget.
 */
function repetitions(quick: boolean): {
  "bert-layer": number;
  "tiny-step": number;
  budgetMs: number;
  rounds: number;
} {
  return quick
    ? { "bert-layer": 3, "tiny-step": 5, budgetMs: 500, rounds: 1 }
    : { "bert-layer": 30, "tiny-step": 200, budgetMs: 20_000, rounds: 4 };
}

type CaseName = "bert-layer" | "tiny-step";

/** Wall times of fn over at most maxReps calls (at least 3) within a time budget, after two warm-up calls. */
function measure(fn: () => void, budgetMs: number, maxReps: number): number[] {
  fn();
  fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 3 || (performance.now() - start < budgetMs && times.length < maxReps)) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return times;
}

function bertLayerStep(): () => void {
  const config = bertConfig(768, 12, 3072, 1, 10, 128);
  const layer = new BertLayer(config, 1);
  const rng = new T.Rng(2);
  const make = (shape: number[], scale: number) =>
    T.keep(
      T.tensor(
        Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal() * scale),
        shape,
      ),
    );
  const x = make([8, 128, 768], 1).setRequiresGrad();
  const weights = make([8, 128, 768], 1);
  return () =>
    T.scope(() => {
      for (const p of layer.parameters()) p.grad?.dispose();
      for (const p of layer.parameters()) p.grad = null;
      x.grad?.dispose();
      x.grad = null;
      const out = layer.forward(x, {}, 0, null);
      T.backward(T.sum(T.mul(out, weights)));
    });
}

function tinyTrainingStep(): () => void {
  const config = bertConfig(64, 4, 256, 2, 1000, 64);
  const model = new BertModel(config, { seed: 3 });
  const classifier = new Linear(64, 3, { rng: new T.Rng(4) });
  const optimizer = new AdamW([...model.parameters(), ...classifier.parameters()], {
    lr: 1e-3,
    weightDecay: 0.01,
  });
  const rng = new T.Rng(5);
  const ids = T.keep(
    T.tensor(
      Array.from({ length: 16 * 64 }, () => rng.int(1000)),
      [16, 64],
      "int32",
    ),
  );
  const labels = T.keep(
    T.tensor(
      Array.from({ length: 16 }, () => rng.int(3)),
      [16],
      "int32",
    ),
  );
  return () =>
    T.scope(() => {
      optimizer.zeroGrad();
      const pooled = model.forward({ inputIds: ids }).poolerOutput as T.Tensor;
      T.backward(T.crossEntropy(classifier.forward(pooled), labels));
      optimizer.step();
    });
}

interface TorchRow {
  name: string;
  best_ms: number;
  median_ms: number;
  reps: number;
}

/** One chunk of PyTorch timings of `name` (reps and budget: one round's share). */
function torchTimings(
  threads: number,
  unsetOpenblas: boolean,
  name: CaseName,
  reps: number,
  budgetMs: number,
): { rows: Map<string, TorchRow>; error?: string } {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OMP_NUM_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: String(threads),
    MKL_NUM_THREADS: String(threads),
  };
  if (unsetOpenblas) {
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
  }
  const args = [SCRIPT, String(threads), String(reps), String(reps), String(budgetMs / 1000), name];
  const result = spawnSync(PYTHON, args, { env, encoding: "utf8", timeout: 600_000 });
  const rows = new Map<string, TorchRow>();
  for (const line of result.stdout?.split("\n") ?? []) {
    if (!line.trim()) continue;
    const parsed = JSON.parse(line) as TorchRow & { missing?: string };
    if (parsed.missing) return { rows, error: parsed.missing };
    rows.set(parsed.name, parsed);
  }
  return {
    rows,
    error: result.status === 0 ? undefined : (result.stderr || `exit ${result.status}`).slice(0, 300),
  };
}

/** One case's samples over all rounds: ours, and PyTorch's rows per round (env unset, and as set). */
interface SideTimes {
  times: number[];
  torch: TorchRow[];
  torchEnv: TorchRow[];
}

const medianOf = (values: number[]): number | null =>
  values.length === 0 ? null : [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const bestOf = (rows: TorchRow[]): number | null =>
  rows.length === 0 ? null : Math.min(...rows.map((r) => r.best_ms));

async function runFor(context: BenchContext, backend: Backend): Promise<void> {
  setCurrentBackend(backend);
  const threads = backend.threads;
  const reps = repetitions(context.quick);
  const haveTorch = existsSync(PYTHON) && existsSync(SCRIPT);
  const envSet = Boolean(process.env.OPENBLAS_CORETYPE || process.env.OPENBLAS_L2_SIZE);
  const steps: Record<CaseName, () => void> = {
    "bert-layer": bertLayerStep(),
    "tiny-step": tinyTrainingStep(),
  };
  let torchError = haveTorch ? undefined : `${PYTHON} or ${SCRIPT} missing`;
  for (const name of ["bert-layer", "tiny-step"] as const) {
    const side: SideTimes = { times: [], torch: [], torchEnv: [] };
    const chunkReps = Math.max(3, Math.ceil(reps[name] / reps.rounds));
    const chunkBudget = reps.budgetMs / reps.rounds;
    // the tiny step again with every backward pass dense (as PyTorch runs it), in the same rounds
    const denseTimes: number[] = [];
    for (let round = 0; round < reps.rounds; round++) {
      side.times.push(...measure(steps[name], chunkBudget, chunkReps));
      if (name === "tiny-step") {
        const previous = T.setSparseRowGradients(false);
        try {
          denseTimes.push(...measure(steps[name], chunkBudget, chunkReps));
        } finally {
          T.setSparseRowGradients(previous);
        }
      }
      if (torchError !== undefined) continue;
      const unset = torchTimings(threads, true, name, chunkReps, chunkBudget);
      torchError = unset.error;
      const row = unset.rows.get(name);
      if (row) side.torch.push(row);
      const asSet = envSet ? torchTimings(threads, false, name, chunkReps, chunkBudget).rows.get(name) : row;
      if (asSet) side.torchEnv.push(asSet);
    }
    const torchReps = side.torch.reduce((total, r) => total + r.reps, 0);
    const row = (label: string, times: number[]) =>
      context.row({
        name: `${label} ${backend.name} ${threads} thread(s) vs torch`,
        ours_ms: Math.min(...times),
        ref_ms: bestOf(side.torch),
        // PyTorch's median is the median of its rounds' medians
        detail: {
          ours_median_ms: medianOf(times),
          torch_median_ms: medianOf(side.torch.map((r) => r.median_ms)),
          reps: `${times.length}/${torchReps || "-"}`,
          torch_env_ms: bestOf(side.torchEnv),
        },
      });
    row(name, side.times);
    if (denseTimes.length > 0) row(`${name} (dense backward)`, denseTimes);
  }
  if (torchError) context.note(`PyTorch reference unavailable for ${backend.name}: ${torchError}`);
}

export const trainingSuite: BenchSuite = {
  name: "training",
  description: "BERT-base layer fwd+bwd and a tiny-model training step vs PyTorch (same threads)",
  async run(context) {
    context.note(
      "ref_ms: PyTorch with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset; torch_env_ms: with them as set in this environment",
    );
    for (const backend of availableBackends().filter((b) => b.name !== "reference"))
      await runFor(context, backend);
  },
};
