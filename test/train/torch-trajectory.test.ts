// Training dynamics match PyTorch over many steps, not only one: a post-LN BERT masked LM trained by
// scripts/make-torch-mlm-trajectory.py (plain PyTorch, transformers' parameter names, tied decoder) for 40 AdamW
// steps with warm-up, cosine decay and gradient clipping. adaptlm trains the same initial weights on the same
// batches with pretrain's pieces (maskedLmLoss, weightDecayGroups, clipGradNorm, pretrainLearningRate); every
// step's loss and gradient norm, and every final weight, must agree. One wrong gradient, a decayed norm gain
// or an off-by-one in the schedule moves the curve within a few steps.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { readSafetensors } from "../../src/io/safetensors.js";
import { BertForMaskedLM } from "../../src/models/bert.js";
import { loadLocalModel } from "../../src/models/load-model.js";
import { AdamW, clipGradNorm, weightDecayGroups } from "../../src/optim/index.js";
import * as T from "../../src/tensor/index.js";
import { pretrainLearningRate } from "../../src/train/index.js";
import { maskedLmLoss } from "../../src/train/pretrain.js";

const fixture = fileURLToPath(new URL("../../../test/train/fixtures/torch-mlm-trajectory", import.meta.url));
// make-torch-mlm-trajectory.py's constants
const STEPS = 40;
const LR = 3e-3;
const WARMUP = 5;
const BATCH = 8;
const SEQ = 16;

test("40 masked-LM training steps follow PyTorch's loss curve and end on its weights", () => {
  const torchSteps = readFileSync(`${fixture}/torch_losses.txt`, "utf8")
    .trim()
    .split("\n")
    .map((line) => line.split(" ").map(Number));
  assert.equal(torchSteps.length, STEPS);
  const bytes = readFileSync(`${fixture}/batches.bin`);
  const batches = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  assert.equal(batches.length, STEPS * 2 * BATCH * SEQ);

  const { model } = loadLocalModel(fixture, { kind: "masked-lm" });
  assert.ok(model instanceof BertForMaskedLM);
  model.setRequiresGrad(true);
  model.train();
  const params = model.namedParameters().map(([, p]) => p);
  const optimizer = new AdamW(weightDecayGroups(model, 0.01), {
    lr: LR,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
  });
  for (let step = 0; step < STEPS; step++) {
    const at = step * 2 * BATCH * SEQ;
    const inputs = batches.slice(at, at + BATCH * SEQ);
    const targets = batches.slice(at + BATCH * SEQ, at + 2 * BATCH * SEQ);
    const loss = T.scope(() => {
      const l = maskedLmLoss(model, T.tensor(inputs, [BATCH, SEQ], "int32"), targets);
      const value = l.item();
      T.backward(l);
      return value;
    });
    const gradNorm = clipGradNorm(params, 1);
    const [, torchLoss, torchNorm] = torchSteps[step];
    assert.ok(
      Math.abs(loss - torchLoss) <= 2e-5 * torchLoss,
      `step ${step + 1}: loss ${loss} vs ${torchLoss}`,
    );
    assert.ok(
      Math.abs(gradNorm - torchNorm) <= 1e-4 * torchNorm,
      `step ${step + 1}: gradient norm ${gradNorm} vs ${torchNorm}`,
    );
    optimizer.lr = pretrainLearningRate(step, {
      peak: LR,
      warmupSteps: WARMUP,
      totalSteps: STEPS,
      minRatio: 0.1,
    });
    optimizer.step();
    optimizer.zeroGrad();
  }
  // The weights moved (by far more than the tolerance) and landed where PyTorch's did.
  const initial = readSafetensors(`${fixture}/model.safetensors`).tensors;
  const final = readSafetensors(`${fixture}/final.safetensors`).tensors;
  const ours = new Map(model.namedParameters());
  assert.equal(ours.size, final.size);
  let largestMove = 0;
  for (const [name, expected] of final) {
    const param = ours.get(name);
    assert.ok(param, `adaptlm's model lacks ${name}`);
    const start = initial.get(name)?.data as Float32Array;
    const got = param.data;
    for (let i = 0; i < got.length; i++) {
      largestMove = Math.max(largestMove, Math.abs(expected.data[i] - start[i]));
      assert.ok(
        Math.abs(got[i] - expected.data[i]) <= 2e-5 + 1e-4 * Math.abs(expected.data[i]),
        `${name}[${i}]: ${got[i]} vs PyTorch ${expected.data[i]}`,
      );
    }
  }
  assert.ok(largestMove > 0.05, `training moved the weights by at most ${largestMove}`);
});
