// One training step of a BERT-base-shaped sequence classifier (random weights; 12 layers, hidden 768,
// 12 heads, FFN 3072, vocab 30522; seq 128, batch 8; forward + cross-entropy + backward + AdamW), for full
// fine-tuning and for LoRA r=8 on query/value (+ the classifier head, as PEFT's modules_to_save), ours vs
// PyTorch with the same shapes and thread count (bench/python/bert_step_ref.py), measured in the same run.
// Each (side, method) runs in its own child process so that its peak resident set (VmHWM) is its own:
//   node dist/bench/suites/bert-training-step.js child <full|lora> <steps> <backend>

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { availableBackends, backendByName, setCurrentBackend } from "../../src/backend/registry.js";
import { BertForSequenceClassification } from "../../src/heads/sequence-classification.js";
import { parseHfConfig } from "../../src/io/hf-config.js";
import { AdamW } from "../../src/optim/index.js";
import { LoraAdapter } from "../../src/peft/lora.js";
import { forwardWithAdapter } from "../../src/peft/method.js";
import type { Tensor } from "../../src/tensor/index.js";
import * as T from "../../src/tensor/index.js";
import type { BenchContext, BenchSuite } from "../main.js";

const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("../../../bench/python/bert_step_ref.py", import.meta.url));
const SELF = fileURLToPath(import.meta.url);

const BATCH = 8;
const SEQ = 128;
const VOCAB = 30522;
const METHODS = ["full", "lora"] as const;
type Method = (typeof METHODS)[number];

/** What one child process measured (ours and PyTorch print the same keys). */
interface StepResult {
  best_ms: number;
  median_ms: number;
  steps: number;
  peak_rss_mb: number;
  baseline_rss_mb: number;
  parameters: number;
  trainable: number;
  /** Float32 MiB of the parameters plus, for trainable ones, gradients and two AdamW moments. */
  state_mb: number;
  threads?: number;
  missing?: string;
}

// VmHWM of this process (not resourceUsage().maxRSS, which Linux carries over from the parent at exec).
function peakRssMb(): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

function runChild(method: Method, steps: number, backendName: string): void {
  setCurrentBackend(backendByName(backendName));
  const baseline = peakRssMb();
  const config = parseHfConfig({
    model_type: "bert",
    hidden_size: 768,
    num_attention_heads: 12,
    intermediate_size: 3072,
    num_hidden_layers: 12,
    vocab_size: VOCAB,
    max_position_embeddings: 512,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    hidden_act: "gelu",
  });
  const model = new BertForSequenceClassification(config, { numLabels: 2, seed: 1 });
  const adapter = method === "lora" ? new LoraAdapter({ r: 8, alpha: 16, seed: 2 }).attach(model) : null;
  if (!adapter) model.setRequiresGrad(true);
  const trainable: Tensor[] = adapter
    ? [...adapter.trainableParameters().values()]
    : model.namedParameters().map(([, p]) => p);
  const optimizer = new AdamW(trainable, { lr: 1e-4, weightDecay: 0.01 });
  const rng = new T.Rng(3);
  const inputs = {
    inputIds: T.keep(
      T.tensor(
        Array.from({ length: BATCH * SEQ }, () => rng.int(VOCAB)),
        [BATCH, SEQ],
        "int32",
      ),
    ),
    attentionMask: T.keep(T.tensor(new Int32Array(BATCH * SEQ).fill(1), [BATCH, SEQ], "int32")),
  };
  const targets = {
    labels: T.keep(
      T.tensor(
        Array.from({ length: BATCH }, () => rng.int(2)),
        [BATCH],
        "int32",
      ),
    ),
  };
  model.train();
  const step = () =>
    T.scope(() => {
      optimizer.zeroGrad();
      const { loss } = forwardWithAdapter(model, adapter, inputs, targets);
      T.backward(loss as Tensor);
      optimizer.step();
    });
  step(); // warm-up: first-touch of gradient and optimizer buffers
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const parameters = model.parameterCount() + (adapter ? adapter.trainableCount() : 0);
  const trainableCount = trainable.reduce((n, p) => n + p.size, 0);
  const result: StepResult = {
    best_ms: times[0],
    median_ms: times[Math.floor(times.length / 2)],
    steps,
    peak_rss_mb: peakRssMb(),
    baseline_rss_mb: baseline,
    parameters,
    trainable: trainableCount,
    state_mb: ((parameters + 3 * trainableCount) * 4) / 1048576,
    threads: backendByName(backendName).threads,
  };
  console.log(JSON.stringify(result));
}

function parseResult(
  stdout: string | null,
  stderr: string | null,
  status: number | null,
): StepResult | string {
  const line = (stdout ?? "").trim().split("\n").at(-1) ?? "";
  try {
    const parsed = JSON.parse(line) as StepResult;
    return parsed.missing ? parsed.missing : parsed;
  } catch {
    return (stderr || `exit ${status}`).trim().slice(-300);
  }
}

function ours(method: Method, steps: number, backend: string): StepResult | string {
  const r = spawnSync(process.execPath, [SELF, "child", method, String(steps), backend], {
    encoding: "utf8",
    timeout: 1_800_000,
  });
  return parseResult(r.stdout, r.stderr, r.status);
}

function torch(method: Method, steps: number, threads: number): StepResult | string {
  if (!existsSync(PYTHON) || !existsSync(SCRIPT)) return `${PYTHON} or ${SCRIPT} missing`;
  const env = {
    ...process.env,
    OMP_NUM_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: String(threads),
    MKL_NUM_THREADS: String(threads),
  };
  const r = spawnSync(PYTHON, [SCRIPT, method, String(steps), String(threads)], {
    env,
    encoding: "utf8",
    timeout: 1_800_000,
  });
  return parseResult(r.stdout, r.stderr, r.status);
}

async function runFor(context: BenchContext, backend: string, threads: number): Promise<void> {
  const steps = context.quick ? 2 : 5;
  for (const method of METHODS) {
    const mine = ours(method, steps, backend);
    if (typeof mine === "string") {
      context.note(`ours (${backend}, ${method}) failed: ${mine}`);
      continue;
    }
    const ref = torch(method, steps, threads);
    if (typeof ref === "string") context.note(`PyTorch reference unavailable (${method}): ${ref}`);
    const theirs = typeof ref === "string" ? null : ref;
    context.row({
      name: `${method} ${backend} ${threads} thread(s) vs torch`,
      ours_ms: mine.best_ms,
      ref_ms: theirs?.best_ms ?? null,
      detail: {
        ours_median_ms: mine.median_ms,
        torch_median_ms: theirs?.median_ms ?? null,
        trainable: mine.trainable.toLocaleString("en-US"),
        ours_peak_mb: mine.peak_rss_mb,
        torch_peak_mb: theirs?.peak_rss_mb ?? null,
        state_mb: mine.state_mb,
      },
    });
  }
}

export const bertTrainingStepSuite: BenchSuite = {
  name: "bert-training-step",
  description:
    "BERT-base classifier training step (seq 128, batch 8, fwd+bwd+AdamW): full vs LoRA r=8 q/v, vs PyTorch; peak RSS per child process",
  async run(context) {
    context.note(
      "peak_mb: VmHWM of a child process doing only this; state_mb: float32 parameters + grads and AdamW moments of the trainable ones",
    );
    const native = availableBackends().find((b) => b.name === "native");
    const backend = native ?? availableBackends().find((b) => b.name === "wasm");
    if (!backend) {
      context.note("no native or wasm backend available");
      return;
    }
    await runFor(context, backend.name, backend.threads);
  },
};

if (process.argv[1] === SELF && process.argv[2] === "child") {
  const [method, steps, backend] = process.argv.slice(3);
  if (!(METHODS as readonly string[]).includes(method)) {
    console.error(`method must be one of ${METHODS.join(", ")}`);
    process.exit(2);
  }
  runChild(method as Method, Number(steps), backend);
}
